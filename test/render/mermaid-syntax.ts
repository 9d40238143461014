/**
 * A strict check of the Mermaid flowchart subset that renderTraceMermaid emits (there is no Mermaid
 * CLI here): every line must be one of the forms below, ids declared once and before use, subgraphs
 * balanced, classes defined, and labels quoted with only entity codes (#34;) and <br/> inside.
 */
const ID = '[A-Za-z][A-Za-z0-9_]*'
const LABEL = '"((?:[^"#<>&`\\\\\\u0000-\\u001f\\u007f-\\u009f\\u2028\\u2029]|#\\d+;|<br/>)*)"'
const RESERVED = new Set(['end', 'subgraph', 'graph', 'flowchart', 'class', 'classDef', 'click', 'style', 'linkStyle', 'direction', 'default', 'call', 'href'])
const STYLE = /^[a-z-]+:[#A-Za-z0-9 .]+(?:,[a-z-]+:[#A-Za-z0-9 .]+)*$/

const FORMS = {
  header: /^flowchart (TB|LR|BT|RL)$/,
  subgraph: new RegExp(`^subgraph (${ID})\\[${LABEL}\\]$`),
  direction: /^direction (TB|LR|BT|RL)$/,
  end: /^end$/,
  node: new RegExp(`^(${ID})(?:\\[${LABEL}\\]|\\(\\[${LABEL}\\]\\))$`),
  edge: new RegExp(`^(${ID}) (-->|-\\.->) (${ID})$`),
  classDef: new RegExp(`^classDef (${ID}) (\\S.*)$`),
  class: new RegExp(`^class (${ID}(?:,${ID})*) (${ID})$`),
}

/** Problems found in a Mermaid flowchart; empty when it is valid. */
export function checkMermaidFlowchart(text: string): string[] {
  const problems: string[] = []
  const lines = text.split('\n')
  if (text.length > 50_000) problems.push(`diagram is ${text.length} characters; Mermaid's default maxTextSize is 50000`)
  if (!FORMS.header.test(lines[0] ?? '')) problems.push(`line 1 is not "flowchart TB": ${JSON.stringify(lines[0])}`)
  const nodes = new Set<string>()
  const groups = new Set<string>()
  const classDefs = new Set<string>()
  const classUses: Array<[number, string[], string]> = []
  const edges: Array<[number, string, string]> = []
  let depth = 0
  const declare = (n: number, id: string, set: Set<string>): void => {
    if (RESERVED.has(id)) problems.push(`line ${n}: id ${id} is a Mermaid keyword`)
    if (nodes.has(id) || groups.has(id)) problems.push(`line ${n}: id ${id} declared twice`)
    set.add(id)
  }
  lines.slice(1).forEach((raw, k) => {
    const n = k + 2
    if (!/^ *\S/.test(raw) || raw !== raw.trimEnd()) {
      problems.push(`line ${n}: blank, tab-indented or trailing space: ${JSON.stringify(raw)}`)
      return
    }
    const line = raw.trim()
    let m: RegExpExecArray | null
    if ((m = FORMS.subgraph.exec(line)) !== null) {
      declare(n, m[1], groups)
      depth += 1
    } else if (FORMS.direction.test(line)) {
      if (depth === 0) problems.push(`line ${n}: direction outside a subgraph`)
    } else if (FORMS.end.test(line)) {
      depth -= 1
      if (depth < 0) problems.push(`line ${n}: end without subgraph`)
    } else if ((m = FORMS.node.exec(line)) !== null) {
      declare(n, m[1], nodes)
    } else if ((m = FORMS.edge.exec(line)) !== null) {
      edges.push([n, m[1], m[3]])
    } else if ((m = FORMS.classDef.exec(line)) !== null) {
      if (!STYLE.test(m[2])) problems.push(`line ${n}: bad classDef style ${JSON.stringify(m[2])}`)
      classDefs.add(m[1])
    } else if ((m = FORMS.class.exec(line)) !== null) {
      classUses.push([n, m[1].split(','), m[2]])
    } else {
      problems.push(`line ${n}: not a known statement: ${JSON.stringify(line.slice(0, 120))}`)
    }
  })
  if (depth !== 0) problems.push(`${depth} subgraph(s) not closed`)
  for (const [n, from, to] of edges) {
    for (const id of [from, to]) if (!nodes.has(id)) problems.push(`line ${n}: edge uses undeclared node ${id}`)
  }
  for (const [n, ids, cls] of classUses) {
    if (!classDefs.has(cls)) problems.push(`line ${n}: class ${cls} has no classDef`)
    for (const id of ids) if (!nodes.has(id)) problems.push(`line ${n}: class on undeclared node ${id}`)
  }
  return problems
}
