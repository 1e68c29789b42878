export function adhocSign() { throw new Error('macho signer missing'); }
