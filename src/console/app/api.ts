/** The console's own HTTP calls (sign-in state), all same-origin with the session cookie. */
export interface Me {
  keyId: string;
  name: string;
  expiresMs: number;
}

export async function me(): Promise<Me | null> {
  const r = await fetch('/ui/api/me', { credentials: 'same-origin' });
  return r.ok ? ((await r.json()) as Me) : null;
}

export async function signIn(key: string): Promise<string | null> {
  const r = await fetch('/ui/api/signin', { method: 'POST', credentials: 'same-origin', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ key }) });
  if (r.ok) return null;
  const body = (await r.json().catch(() => ({}))) as { message?: string };
  return body.message ?? `sign-in failed (${r.status})`;
}

export async function signOut(): Promise<void> {
  await fetch('/ui/api/signout', { method: 'POST', credentials: 'same-origin' });
}
