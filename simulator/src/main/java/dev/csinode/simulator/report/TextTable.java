package dev.csinode.simulator.report;

import java.util.ArrayList;
import java.util.List;

/** Rows of cells printed in aligned columns, two spaces apart, with no trailing blanks. */
final class TextTable {
  enum Align { LEFT, RIGHT }

  private final Align[] aligns;
  private final List<String[]> rows = new ArrayList<>();

  TextTable(Align... aligns) {
    this.aligns = aligns.clone();
  }

  TextTable row(String... cells) {
    if (cells.length != aligns.length) {
      throw new IllegalArgumentException("a row of " + cells.length + " cells in a table of " + aligns.length + " columns");
    }
    rows.add(cells.clone());
    return this;
  }

  /** The rows, each padded to its columns' widths (in code points: a driver's message may hold any character). */
  List<String> lines() {
    int[] widths = new int[aligns.length];
    for (String[] row : rows) {
      for (int i = 0; i < row.length; i++) {
        widths[i] = Math.max(widths[i], width(row[i]));
      }
    }
    List<String> lines = new ArrayList<>(rows.size());
    for (String[] row : rows) {
      StringBuilder line = new StringBuilder();
      for (int i = 0; i < row.length; i++) {
        if (i > 0) {
          line.append("  ");
        }
        String pad = " ".repeat(widths[i] - width(row[i]));
        line.append(aligns[i] == Align.RIGHT ? pad + row[i] : row[i] + pad);
      }
      lines.add(line.toString().stripTrailing());
    }
    return lines;
  }

  private static int width(String s) {
    return s.codePointCount(0, s.length());
  }
}
