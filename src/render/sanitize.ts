/**
 * Strings from configs and clusters are untrusted: this removes terminal control characters
 * (C0 except tab, DEL, C1, and ESC sequences) so a hostile name cannot move the cursor or recolour the screen.
 */
export function stripControl(s: string, maxLength = 2000): string {
  const clean = s.replace(/\u001b\[[0-?]*[ -/]*[@-~]|\u001b[\]P^_][\s\S]*?(?:\u0007|\u001b\\)|[\u0000-\u0008\u000a-\u001f\u007f-\u009f]/g, (m) =>
    m === '\n' ? '␤' : m === '\r' ? '␍' : '',
  )
  return clean.length > maxLength ? `${clean.slice(0, maxLength)}… (${clean.length - maxLength} more characters)` : clean
}
