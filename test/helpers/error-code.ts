/** The `code` a promise rejects with (node-style errors), or "no error" when it fulfils. */
export async function codeOf(promise: Promise<unknown>): Promise<string | undefined> {
  try {
    await promise;
    return "no error";
  } catch (error) {
    return (error as { code?: string }).code;
  }
}
