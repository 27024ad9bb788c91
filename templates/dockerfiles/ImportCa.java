// Adds every certificate of a PEM bundle to a JKS/PKCS12 truststore (password "changeit") in one JVM run;
// keytool -importcert takes one certificate per call. Usage: java ImportCa.java BUNDLE.pem TRUSTSTORE
import java.io.FileInputStream;
import java.io.FileOutputStream;
import java.security.KeyStore;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;

public class ImportCa {
    public static void main(String[] args) throws Exception {
        char[] password = "changeit".toCharArray();
        KeyStore store = KeyStore.getInstance(KeyStore.getDefaultType());
        try (FileInputStream in = new FileInputStream(args[1])) {
            store.load(in, password);
        }
        int added = 0;
        try (FileInputStream in = new FileInputStream(args[0])) {
            for (Certificate cert : CertificateFactory.getInstance("X.509").generateCertificates(in)) {
                if (store.getCertificateAlias(cert) == null) {
                    store.setCertificateEntry("extra-ca-" + added++, cert);
                }
            }
        }
        try (FileOutputStream out = new FileOutputStream(args[1])) {
            store.store(out, password);
        }
        System.out.println("extra CA: " + added + " certificate(s) added to " + args[1]);
    }
}
