/**
 * Draws a history as `git log --graph` does: one lane per line of descent, `*` on the
 * node's lane, `|` on the others, `|/` where a lane joins the one on its left (a fork
 * point seen from its children).
 *
 * @module
 */

/** One printed line: the graph part and, on a node's line, the node's index. */
export interface GraphLine {
  graph: string;
  node: number | null;
}

/**
 * The graph lines of `nodes`, which come children first (every node before its parent).
 * Lanes are 2 characters wide.
 */
export function graphLines(nodes: readonly { id: string; parent: string | null }[]): GraphLine[] {
  const ids = new Set(nodes.map((n) => n.id));
  // each lane waits for the id of the next node on it
  const lanes: string[] = [];
  const lines: GraphLine[] = [];
  nodes.forEach((node, index) => {
    let column = lanes.indexOf(node.id);
    if (column === -1) {
      column = lanes.length;
      lanes.push(node.id);
    }
    // lanes to the right that wait for the same node join it first, one line each
    for (let k = lanes.lastIndexOf(node.id); k > column; k = lanes.lastIndexOf(node.id)) {
      lines.push({ graph: shiftLine(lanes.length, k, true), node: null });
      lanes.splice(k, 1);
    }
    lines.push({ graph: row(lanes.length, column), node: index });
    const parent = node.parent !== null && ids.has(node.parent) ? node.parent : null;
    if (parent !== null) {
      lanes[column] = parent;
    } else {
      if (column < lanes.length - 1) {
        lines.push({ graph: shiftLine(lanes.length, column, false), node: null });
      }
      lanes.splice(column, 1);
    }
  });
  return lines;
}

/** A node's line: `*` in its column, `|` in the others. */
function row(width: number, column: number): string {
  return Array.from({ length: width }, (_, i) => i === column ? "*" : "|").join(" ");
}

/**
 * The line drawn when lane `removed` of `width` goes: the lanes on its left go on (`|`),
 * those on its right move one column left (`/`), and so does lane `removed` itself when
 * it joins its left neighbour.
 */
function shiftLine(width: number, removed: number, joins: boolean): string {
  const chars = Array.from({ length: 2 * width }, () => " ");
  for (let i = 0; i < removed; i++) chars[2 * i] = "|";
  if (joins) chars[2 * removed - 1] = "/";
  for (let j = removed + 1; j < width; j++) chars[2 * j - 1] = "/";
  return chars.join("").trimEnd();
}
