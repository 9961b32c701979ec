// Every API error as a sentence a player understands: known codes get friendly text, the rest
// the server's own message, and validation errors name the fields at fault.
const FRIENDLY = {
  insufficient_funds: "Not enough available balance for that. Deposit or lower the amount.",
  not_your_turn: "It is not your turn yet: wait for your opponent to pull.",
  not_a_player: "Only the two players at this table can pull the trigger.",
  already_seated: "You are already seated at a table. Finish or leave it before joining another.",
  underage: "You must be 18 or older to play.",
  invalid_credentials: "Wrong username, email or password.",
  already_registered: "That username or email is already registered.",
  stake_mismatch: "That table plays for a different stake.",
  room_full: "That table is full. Pick another one or open a new table.",
  room_closed: "That table has closed.",
  room_not_playing: "The match at this table is not being played right now.",
  room_not_found: "There is no such table.",
  bets_closed: "Betting on this match is closed (fewer than 2 chambers left).",
  duplicate_bet: "You already have a bet on this pull.",
  daily_deposit_limit: "This deposit would take you over your 24-hour deposit limit.",
  deposit_limit: "This deposit would take you over a deposit limit you set.",
  play_paused: "You are on a break from play: deposits, spins, tables and bets open again when it ends.",
  pause_cannot_shorten: "You already have a longer break; a break can be lengthened, never cut short.",
  mpesa_refused: "M-Pesa refused the payment request. Check the phone number and try again.",
  mpesa_unavailable: "M-Pesa cannot be reached right now. Nothing was charged; try again later.",
  phone_required: "Enter the M-Pesa phone number to pay to.",
  rate_limited: "Too many attempts. Wait a moment and try again.",
  token_expired: "Your session has expired. Please log in again.",
  session_revoked: "Your session has ended. Please log in again.",
  invalid_refresh_token: "Your session has ended. Please log in again.",
  refresh_token_reused: "Your session was ended for safety. Please log in again.",
  invalid_ticket: "The live connection could not be authorised; retrying.",
  idempotency_in_progress: "That request is still being processed.",
  game_unavailable: "This game is not available right now.",
  network_error: "Cannot reach the server. Check your connection.",
  internal_error: "Something went wrong on our side. Please try again.",
};

const FIELD_NAMES = {
  username: "Username",
  email: "Email",
  password: "Password",
  date_of_birth: "Date of birth",
  phone: "Phone",
  amount: "Amount",
  bet_amount: "Bet",
  stake: "Stake",
  client_seed: "Client seed",
  server_seed: "Server seed",
  nonce: "Nonce",
};

// Shown instead of the validator's wording when a field does not have the expected shape.
const SHAPES = {
  username: "Use 3–32 letters, digits or _.",
  email: "Enter an email address like name@example.com.",
  password: "Use at least 8 characters.",
  date_of_birth: "Enter your date of birth: day, month and year.",
  phone: "Enter a Kenyan mobile number like 0712 345 678.",
  amount: "Enter whole shillings within the allowed range.",
  bet_amount: "Enter an amount in KES with at most 2 decimals.",
  stake: "Enter an amount in KES with at most 2 decimals.",
  client_seed: "Use 1–64 letters, digits, _ or -.",
};

// A field's own rules, in a player's words, recognised from the server's message for that field
// (each field is judged alone: an under-18 date says so under the date only).
const FIELD_RULES = {
  date_of_birth: [
    [/years old|at least 18|underage/i, "You must be 18 or older to play."],
    [/past date|after 1900/i, "Enter a real date of birth in the past."],
  ],
  amount: [
    [/greater than|at least|minimum|less than|at most|maximum/i, "That amount is outside the limits shown."],
  ],
};

function fieldWords(field, item) {
  const text = String(item.message || "");
  for (const [pattern, words] of FIELD_RULES[field] || []) {
    if (pattern.test(text)) return words;
  }
  // The server's wording names formats ("YYYY-MM-DD", "string") a player never typed: the
  // field's own hint says what to enter instead.
  if (SHAPES[field]) return SHAPES[field];
  return text ? text.charAt(0).toUpperCase() + text.slice(1) : "Not valid.";
}

/** {field: message} from a validation error's details, each in a player's words. */
export function fieldErrors(error) {
  const found = {};
  for (const item of error?.details?.fields || []) {
    const field = String(item.field || "body").split(".").pop();
    found[field] ??= fieldWords(field, item);
  }
  return found;
}

export function describe(error) {
  if (!error) return "Something went wrong.";
  const fields = fieldErrors(error);
  if (error.code === "validation_error" && Object.keys(fields).length) {
    return Object.entries(fields)
      .map(([field, message]) => `${FIELD_NAMES[field] || field}: ${message}`)
      .join(" · ");
  }
  const friendly = FRIENDLY[error.code];
  if (friendly) return friendly;
  return error.message || "Something went wrong.";
}
