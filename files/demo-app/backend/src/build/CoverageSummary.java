import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;

/**
 * Prints the line and branch coverage of JaCoCo's CSV report (the check goal says nothing while
 * the rule holds). Run by the build as a single-file program: java CoverageSummary.java CSV MINIMUM
 */
public class CoverageSummary {
    public static void main(String[] args) throws IOException {
        Path csv = Path.of(args[0]);
        if (!Files.exists(csv)) {
            System.out.println("JaCoCo: no report at " + csv + " (tests skipped?)");
            return;
        }
        List<String> lines = Files.readAllLines(csv);
        List<String> header = List.of(lines.get(0).split(","));
        long[] totals = new long[4];
        String[] columns = {"LINE_MISSED", "LINE_COVERED", "BRANCH_MISSED", "BRANCH_COVERED"};
        for (String row : lines.subList(1, lines.size())) {
            String[] cells = row.split(",");
            for (int i = 0; i < columns.length; i++) {
                totals[i] += Long.parseLong(cells[header.indexOf(columns[i])]);
            }
        }
        double minimum = Double.parseDouble(args[1]);
        System.out.printf(Locale.ROOT, "JaCoCo line coverage: %.1f %% (%d of %d lines; the build fails below %.0f %%),"
                        + " branch coverage: %.1f %% (%d of %d)%n",
                percent(totals[1], totals[0]), totals[1], totals[0] + totals[1], minimum * 100,
                percent(totals[3], totals[2]), totals[3], totals[2] + totals[3]);
    }

    private static double percent(long covered, long missed) {
        return covered + missed == 0 ? 100.0 : 100.0 * covered / (covered + missed);
    }
}
