// Side-bet odds from RULES.md, in integer cents, for display only (the server's answer counts).
// With k chambers left before the next pull, bang has probability 1/k; with the house edge e%:
// elimination pays floor(bet × k × (100 − e) / 100), survival floor(bet × k × (100 − e) / (100 × (k − 1))).
export function multiplier(betType, chambersLeft, edgePercent = 5) {
  const k = chambersLeft;
  if (k < 2) return null;
  if (betType === "elimination") return [k * (100 - edgePercent), 100];
  return [k * (100 - edgePercent), 100 * (k - 1)];
}

/** The multiplier rounded down to 4 places, as the server writes it ("5.7000"). */
export function odds(betType, chambersLeft, edgePercent = 5) {
  const m = multiplier(betType, chambersLeft, edgePercent);
  if (!m) return null;
  const scaled = Math.floor((m[0] * 10000) / m[1]);
  return `${Math.floor(scaled / 10000)}.${String(scaled % 10000).padStart(4, "0")}`;
}

/** Payout in cents, stake included. BigInt keeps large bets exact. */
export function payout(betCents, betType, chambersLeft, edgePercent = 5) {
  const m = multiplier(betType, chambersLeft, edgePercent);
  if (!m) return null;
  return Number((BigInt(betCents) * BigInt(m[0])) / BigInt(m[1]));
}
