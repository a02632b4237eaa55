/**
 * Rows as text columns padded to the widest cell, separated by two spaces;
 * the last column is not padded so lines carry no trailing spaces. `header`
 * styles the first row (bold on a TTY).
 */
export function formatTable(
  rows: readonly (readonly string[])[],
  header: (text: string) => string = (text) => text,
): string[] {
  const widths: number[] = [];
  for (const row of rows) {
    row.forEach((cell, column) => {
      widths[column] = Math.max(widths[column] ?? 0, displayWidth(cell));
    });
  }
  return rows.map((row, index) => {
    const line = row
      .map((cell, column) =>
        column === row.length - 1 ? cell : cell + ' '.repeat((widths[column] ?? 0) - displayWidth(cell)),
      )
      .join('  ');
    return index === 0 ? header(line) : line;
  });
}

/** Characters as a terminal shows them: an astral character (two UTF-16 units) is one. */
function displayWidth(text: string): number {
  return [...text].length;
}
