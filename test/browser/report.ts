// Hands a page's result to test/browser/browser.test.ts: the test exposes `foveaReport` on the
// page through Playwright (page.exposeFunction), so the result goes straight back to Node.
// A failure is reported as { error } with its stack rather than left as a silent hang.
export function report(run: () => Promise<Record<string, unknown>>): void {
  const send = (globalThis as unknown as { foveaReport: (result: Record<string, unknown>) => Promise<void> }).foveaReport;
  run()
    .then(send)
    .catch((e: unknown) => send({ error: e instanceof Error ? `${e.message}\n${e.stack}` : String(e) }));
}
