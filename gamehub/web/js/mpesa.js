// What a failed M-Pesa payment means for the player, and what to do next, from the result code
// at the end of the transaction's failure_reason ("… (1032)"): Daraja's own wording is for
// integrators ("The initiator information is invalid.") and stays available as a tooltip.
const DEPOSIT = {
  1: "Your M-Pesa balance was too low for this deposit. Top up M-Pesa or deposit less, then try again.",
  1001: "Another M-Pesa payment was in progress on your phone. Wait a minute, then try again.",
  1019: "The payment prompt expired before it was answered. Send a new prompt and approve it within a minute.",
  1025: "M-Pesa could not send the prompt to your phone. Try again in a moment.",
  1032: "You cancelled the payment prompt. Nothing was charged; send a new prompt when you are ready.",
  1037: "Your phone could not be reached. Make sure it is on, has signal and the SIM is in, then send a new prompt.",
  2001: "The M-Pesa PIN was wrong. Nothing was charged; send a new prompt and enter your PIN carefully.",
};
const WITHDRAWAL = {
  2001: "M-Pesa could not pay out right now. The money is back in your wallet; try again later or contact support.",
  2040: "This phone number cannot receive M-Pesa payments. Check the number; the money is back in your wallet.",
};

/** The result code at the end of a failure reason, or null. */
export function resultCode(reason) {
  const match = /\((\d+)\)\s*$/.exec(String(reason || ""));
  return match ? Number(match[1]) : null;
}

/** A failed transaction in a player's words: what happened and what to do. */
export function failureAdvice(tx) {
  const code = resultCode(tx.failure_reason);
  if (tx.type === "deposit") {
    return DEPOSIT[code] || "The deposit did not go through and nothing was charged. Try again, or use another phone.";
  }
  return WITHDRAWAL[code] || "The withdrawal could not be paid. The money is back in your wallet; try again later.";
}
