// Reads Java properties files with java.util.Properties, as ZooKeeper reads zoo.cfg, and prints them as
// JSON: {path: {"value": {key: value}} | {"error": message}}. Run as `java ReadProperties.java FILE...`.
import java.io.FileInputStream;
import java.io.InputStream;
import java.util.Properties;
import java.util.TreeSet;

public class ReadProperties {
    static String quote(String text) {
        StringBuilder out = new StringBuilder("\"");
        for (char c : text.toCharArray()) {
            switch (c) {
                case '"': out.append("\\\""); break;
                case '\\': out.append("\\\\"); break;
                default:
                    if (c < 0x20 || c >= 0x7f) {  // ASCII only: the output's encoding does not matter
                        out.append(String.format("\\u%04x", (int) c));
                    } else {
                        out.append(c);
                    }
            }
        }
        return out.append('"').toString();
    }

    public static void main(String[] paths) throws Exception {
        StringBuilder out = new StringBuilder("{");
        boolean first = true;
        for (String path : paths) {
            if (!first) out.append(',');
            first = false;
            out.append(quote(path)).append(':');
            Properties properties = new Properties();
            try (InputStream in = new FileInputStream(path)) {
                properties.load(in);
                out.append("{\"value\":{");
                boolean firstKey = true;
                for (String key : new TreeSet<>(properties.stringPropertyNames())) {
                    if (!firstKey) out.append(',');
                    firstKey = false;
                    out.append(quote(key)).append(':').append(quote(properties.getProperty(key)));
                }
                out.append("}}");
            } catch (Exception error) {
                out.append("{\"error\":").append(quote(String.valueOf(error))).append('}');
            }
        }
        System.out.println(out.append('}'));
    }
}
