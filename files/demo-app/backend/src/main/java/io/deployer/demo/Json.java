package io.deployer.demo;

import java.util.LinkedHashMap;
import java.util.Map;

/** Just enough JSON: escaping for output and a parser for flat request objects. */
final class Json {
    private Json() {}

    static String quote(String s) {
        return quote(new StringBuilder(s == null ? 4 : s.length() + 16), s).toString();
    }

    /** Appends s as a JSON string literal (or null). Escapes <, > and & too, so output is safe in HTML. */
    static StringBuilder quote(StringBuilder sb, String s) {
        if (s == null) return sb.append("null");
        sb.append('"');
        for (int i = 0; i < s.length(); i++) {
            char ch = s.charAt(i);
            switch (ch) {
                case '"' -> sb.append("\\\"");
                case '\\' -> sb.append("\\\\");
                case '\n' -> sb.append("\\n");
                case '\r' -> sb.append("\\r");
                case '\t' -> sb.append("\\t");
                case '\b' -> sb.append("\\b");
                case '\f' -> sb.append("\\f");
                default -> {
                    if (ch < 0x20 || ch == '<' || ch == '>' || ch == '&' || ch == '\u2028' || ch == '\u2029') {
                        sb.append(String.format("\\u%04x", (int) ch));
                    } else {
                        sb.append(ch);
                    }
                }
            }
        }
        return sb.append('"');
    }

    /** Thrown for malformed input; the message is safe to return to the client. */
    static final class ParseException extends Exception {
        ParseException(String message) { super(message); }
    }

    /**
     * Parses one flat JSON object whose values are strings, numbers, booleans or null.
     * Nested objects and arrays are rejected: the API never needs them.
     * Values: String, Double/Long, Boolean, or null.
     */
    static Map<String, Object> parseFlatObject(String text) throws ParseException {
        Parser p = new Parser(text);
        Map<String, Object> result = p.object();
        p.skipWhitespace();
        if (p.pos != text.length()) throw new ParseException("unexpected content after JSON object");
        return result;
    }

    private static final class Parser {
        private final String s;
        private int pos;

        Parser(String s) { this.s = s; }

        Map<String, Object> object() throws ParseException {
            skipWhitespace();
            expect('{');
            Map<String, Object> map = new LinkedHashMap<>();
            skipWhitespace();
            if (peek() == '}') {
                pos++;
                return map;
            }
            while (true) {
                skipWhitespace();
                String key = string();
                skipWhitespace();
                expect(':');
                skipWhitespace();
                map.put(key, value());
                skipWhitespace();
                char c = next();
                if (c == '}') return map;
                if (c != ',') throw new ParseException("expected ',' or '}' at offset " + (pos - 1));
            }
        }

        private Object value() throws ParseException {
            char c = peek();
            if (c == '"') return string();
            if (c == '{' || c == '[') throw new ParseException("nested objects and arrays are not supported");
            if (s.startsWith("true", pos)) { pos += 4; return Boolean.TRUE; }
            if (s.startsWith("false", pos)) { pos += 5; return Boolean.FALSE; }
            if (s.startsWith("null", pos)) { pos += 4; return null; }
            return number();
        }

        private Object number() throws ParseException {
            int start = pos;
            while (pos < s.length() && "+-0123456789.eE".indexOf(s.charAt(pos)) >= 0) pos++;
            String n = s.substring(start, pos);
            try {
                if (n.matches("-?(0|[1-9][0-9]*)")) return Long.parseLong(n);
                if (n.matches("-?(0|[1-9][0-9]*)(\\.[0-9]+)?([eE][+-]?[0-9]+)?")) return Double.parseDouble(n);
            } catch (NumberFormatException ignored) {
                // falls through to the error below (e.g. an integer too large for long)
            }
            throw new ParseException("invalid value at offset " + start);
        }

        private String string() throws ParseException {
            expect('"');
            StringBuilder sb = new StringBuilder();
            while (true) {
                char c = next();
                if (c == '"') return sb.toString();
                if (c < 0x20) throw new ParseException("control character in string at offset " + (pos - 1));
                if (c != '\\') {
                    sb.append(c);
                    continue;
                }
                char e = next();
                switch (e) {
                    case '"' -> sb.append('"');
                    case '\\' -> sb.append('\\');
                    case '/' -> sb.append('/');
                    case 'b' -> sb.append('\b');
                    case 'f' -> sb.append('\f');
                    case 'n' -> sb.append('\n');
                    case 'r' -> sb.append('\r');
                    case 't' -> sb.append('\t');
                    case 'u' -> {
                        if (pos + 4 > s.length()) throw new ParseException("truncated \\u escape");
                        try {
                            sb.append((char) Integer.parseInt(s.substring(pos, pos + 4), 16));
                        } catch (NumberFormatException ex) {
                            throw new ParseException("invalid \\u escape at offset " + pos);
                        }
                        pos += 4;
                    }
                    default -> throw new ParseException("invalid escape at offset " + (pos - 1));
                }
            }
        }

        void skipWhitespace() {
            while (pos < s.length()) {
                char c = s.charAt(pos);
                if (c != ' ' && c != '\t' && c != '\n' && c != '\r') return;
                pos++;
            }
        }

        private char peek() throws ParseException {
            if (pos >= s.length()) throw new ParseException("unexpected end of input");
            return s.charAt(pos);
        }

        private char next() throws ParseException {
            char c = peek();
            pos++;
            return c;
        }

        private void expect(char c) throws ParseException {
            if (pos >= s.length() || s.charAt(pos) != c) {
                throw new ParseException("expected '" + c + "' at offset " + pos);
            }
            pos++;
        }
    }
}
