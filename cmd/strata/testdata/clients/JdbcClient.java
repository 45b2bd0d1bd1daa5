// PgJDBC client of the client-matrix test (cmd/strata/clientmatrix_test.go).
//
// Usage: javac -d DIR JdbcClient.java; java -cp /usr/share/java/postgresql.jar:DIR JdbcClient HOST PORT < queries
// Each input line is NAME<TAB>SQL[<TAB>TYPE:VALUE]... with ? placeholders; TYPE is
// text (setString, sent as varchar) or timestamptz (setTimestamp, sent with no type).
// Lines without parameters run through a Statement, the others through a
// PreparedStatement; PgJDBC uses the extended protocol (Parse/Bind/Describe P/Execute)
// for both. Before them it lists the table through DatabaseMetaData.getTables and its
// columns through getColumns (steps jdbc_getTables, jdbc_getColumns), and asks
// ResultSetMetaData.isNullable (jdbc_isNullable), and calls the rest of
// DatabaseMetaData on the lookup table products (jdbc_getPrimaryKeys ...
// jdbc_getClientInfoProperties). Each PreparedStatement runs six
// times; the sixth answer (named statement, binary results) is NAME/prepared6. Prints
// one JSON object like psycopg2_client.py. Connects as strata with sslmode MATRIX_SSLMODE
// (default disable), sslrootcert MATRIX_SSLROOTCERT and password MATRIX_PASSWORD when set.
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.sql.*;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;

public class JdbcClient {
  interface Query {
    ResultSet run() throws SQLException;
  }

  static String quote(String s) {
    if (s == null) return "null";
    StringBuilder b = new StringBuilder("\"");
    for (char ch : s.toCharArray()) {
      switch (ch) {
        case '"': b.append("\\\""); break;
        case '\\': b.append("\\\\"); break;
        case '\n': b.append("\\n"); break;
        case '\r': b.append("\\r"); break;
        case '\t': b.append("\\t"); break;
        default:
          if (ch < 0x20) b.append(String.format("\\u%04x", (int) ch));
          else b.append(ch);
      }
    }
    return b.append('"').toString();
  }

  static String error(SQLException e) {
    return "{\"error\":" + quote(e.getClass().getSimpleName() + ": " + e.getMessage()) + ",\"sqlstate\":" + quote(e.getSQLState() == null ? "" : e.getSQLState()) + "}";
  }

  // step renders a result set as {"columns":[...],"rows":[[...]]}; pick, when not
  // null, keeps only those columns (by label).
  static String step(Query q, String[] pick) {
    try (ResultSet rs = q.run()) {
      ResultSetMetaData md = rs.getMetaData();
      List<Integer> idx = new ArrayList<>();
      StringBuilder b = new StringBuilder("{\"columns\":[");
      if (pick == null) {
        for (int i = 1; i <= md.getColumnCount(); i++) idx.add(i);
      } else {
        for (String p : pick) idx.add(rs.findColumn(p));
      }
      for (int k = 0; k < idx.size(); k++) {
        if (k > 0) b.append(',');
        b.append(quote(md.getColumnLabel(idx.get(k))));
      }
      b.append("],\"rows\":[");
      boolean first = true;
      while (rs.next()) {
        if (!first) b.append(',');
        first = false;
        b.append('[');
        for (int k = 0; k < idx.size(); k++) {
          if (k > 0) b.append(',');
          b.append(quote(rs.getString(idx.get(k))));
        }
        b.append(']');
      }
      return b.append("]}").toString();
    } catch (SQLException e) {
      return error(e);
    }
  }

  static String nullability(Connection c) {
    try (Statement st = c.createStatement();
        ResultSet rs = st.executeQuery("SELECT \"timestamp\", user_id FROM user_behavior LIMIT 1")) {
      ResultSetMetaData m = rs.getMetaData();
      StringBuilder b = new StringBuilder("{\"columns\":[\"column\",\"isNullable\"],\"rows\":[");
      for (int i = 1; i <= m.getColumnCount(); i++) {
        if (i > 1) b.append(',');
        b.append('[').append(quote(m.getColumnName(i))).append(',').append(quote(String.valueOf(m.isNullable(i)))).append(']');
      }
      return b.append("]}").toString();
    } catch (SQLException e) {
      return error(e);
    }
  }

  public static void main(String[] a) throws Exception {
    String sslmode = System.getenv().getOrDefault("MATRIX_SSLMODE", "disable");
    String url = "jdbc:postgresql://" + a[0] + ":" + a[1] + "/strata?user=strata&sslmode=" + sslmode + "&connectTimeout=10";
    java.util.Properties props = new java.util.Properties();
    if (System.getenv("MATRIX_SSLROOTCERT") != null) props.setProperty("sslrootcert", System.getenv("MATRIX_SSLROOTCERT"));
    if (System.getenv("MATRIX_PASSWORD") != null) props.setProperty("password", System.getenv("MATRIX_PASSWORD"));
    List<String> lines = new ArrayList<>();
    try (BufferedReader r = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8))) {
      for (String l; (l = r.readLine()) != null; ) if (!l.isEmpty()) lines.add(l);
    }
    Connection c;
    try {
      c = DriverManager.getConnection(url, props);
    } catch (SQLException e) {
      System.out.println("{\"driver\":\"PgJDBC\",\"connect_error\":" + quote(e.getMessage()) + ",\"steps\":{}}");
      return;
    }
    DatabaseMetaData md = c.getMetaData();
    StringBuilder out = new StringBuilder("{\"driver\":" + quote("PgJDBC " + md.getDriverVersion()) + ",\"steps\":{");
    out.append("\"jdbc_getTables\":").append(step(() -> md.getTables(null, null, "%", new String[] {"TABLE"}),
        new String[] {"TABLE_SCHEM", "TABLE_NAME", "TABLE_TYPE"}));
    out.append(",\"jdbc_getColumns\":").append(step(() -> md.getColumns(null, "public", "user_behavior", "%"),
        new String[] {"COLUMN_NAME", "TYPE_NAME", "ORDINAL_POSITION"}));
    out.append(",\"jdbc_getSchemas\":").append(step(() -> md.getSchemas(), new String[] {"table_schem"}));
    // The rest of DatabaseMetaData, over the lookup table products (PRIMARY KEY
    // product_id, UNIQUE sku, UNIQUE (sku, name)): jdbc_<method>.
    out.append(",\"jdbc_getPrimaryKeys\":").append(step(() -> md.getPrimaryKeys(null, "public", "products"),
        new String[] {"TABLE_NAME", "COLUMN_NAME", "KEY_SEQ", "PK_NAME"}));
    // COLUMN_SIZE and DECIMAL_DIGITS come from the columns' type modifiers
    out.append(",\"jdbc_getColumns_products\":").append(step(() -> md.getColumns(null, "public", "products", "%"),
        new String[] {"COLUMN_NAME", "TYPE_NAME", "COLUMN_SIZE", "DECIMAL_DIGITS"}));
    out.append(",\"jdbc_getIndexInfo\":").append(step(() -> md.getIndexInfo(null, "public", "products", false, false),
        new String[] {"TABLE_NAME", "NON_UNIQUE", "INDEX_NAME", "ORDINAL_POSITION", "COLUMN_NAME"}));
    out.append(",\"jdbc_getImportedKeys\":").append(step(() -> md.getImportedKeys(null, "public", "products"),
        new String[] {"PKTABLE_NAME", "FKTABLE_NAME", "FK_NAME"}));
    out.append(",\"jdbc_getExportedKeys\":").append(step(() -> md.getExportedKeys(null, "public", "products"),
        new String[] {"PKTABLE_NAME", "FKTABLE_NAME", "FK_NAME"}));
    out.append(",\"jdbc_getTypeInfo\":").append(step(() -> md.getTypeInfo(), new String[] {"TYPE_NAME", "DATA_TYPE"}));
    out.append(",\"jdbc_getUDTs\":").append(step(() -> md.getUDTs(null, "public", "%", null), new String[] {"TYPE_NAME"}));
    out.append(",\"jdbc_getFunctions\":").append(step(() -> md.getFunctions(null, "pg_catalog", "strpos"),
        new String[] {"FUNCTION_SCHEM", "FUNCTION_NAME", "FUNCTION_TYPE"}));
    out.append(",\"jdbc_getProcedures\":").append(step(() -> md.getProcedures(null, "pg_catalog", "upper"),
        new String[] {"PROCEDURE_SCHEM", "PROCEDURE_NAME", "PROCEDURE_TYPE"}));
    out.append(",\"jdbc_getTablePrivileges\":").append(step(() -> md.getTablePrivileges(null, "public", "products"),
        new String[] {"TABLE_NAME", "GRANTEE", "PRIVILEGE"}));
    out.append(",\"jdbc_getColumnPrivileges\":").append(step(() -> md.getColumnPrivileges(null, "public", "products", "sku"),
        new String[] {"COLUMN_NAME", "GRANTEE", "PRIVILEGE"}));
    out.append(",\"jdbc_getBestRowIdentifier\":").append(step(() -> md.getBestRowIdentifier(null, "public", "products", DatabaseMetaData.bestRowSession, true),
        new String[] {"COLUMN_NAME", "TYPE_NAME"}));
    out.append(",\"jdbc_getClientInfoProperties\":").append(step(() -> md.getClientInfoProperties(), new String[] {"NAME"}));
    // ResultSetMetaData.isNullable makes PgJDBC look the columns up in pg_attribute
    // by the table OID and attribute number of the RowDescription.
    out.append(",\"jdbc_isNullable\":").append(nullability(c));
    for (String line : lines) {
      String[] f = line.split("\t");
      String name = f[0], sql = f[1];
      String res;
      if (f.length == 2) {
        try (Statement st = c.createStatement()) {
          res = step(() -> st.executeQuery(sql), null);
        }
      } else {
        try (PreparedStatement ps = c.prepareStatement(sql)) {
          for (int i = 2; i < f.length; i++) {
            int colon = f[i].indexOf(':');
            String ty = f[i].substring(0, colon), v = f[i].substring(colon + 1);
            if (ty.equals("timestamptz")) ps.setTimestamp(i - 1, Timestamp.from(Instant.parse(v)));
            else ps.setString(i - 1, v);
          }
          res = step(ps::executeQuery, null);
          // From the prepareThreshold-th (5th) execution on, PgJDBC uses a named
          // server-side statement and binary results: the 6th run is NAME/prepared6.
          for (int k = 2; k <= 5; k++) step(ps::executeQuery, null);
          out.append(',').append(quote(name + "/prepared6")).append(':').append(step(ps::executeQuery, null));
        } catch (SQLException e) {
          res = error(e);
        }
      }
      out.append(',').append(quote(name)).append(':').append(res);
    }
    c.close();
    System.out.println(out.append("}}"));
  }
}
