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
  date_of_birth: "Enter your date of birth.",
  phone: "Enter a Kenyan mobile number like 0712 345 678.",
  amount: "Enter whole shillings within the allowed range.",
  bet_amount: "Enter an amount in KES with at most 2 decimals.",
  stake: "Enter an amount in KES with at most 2 decimals.",
  client_seed: "Use 1–64 letters, digits, _ or -.",
};

/** {field: message} from a validation error's details. */
export function fieldErrors(error) {
  const found = {};
  for (const item of error?.details?.fields || []) {
    const field = String(item.field || "body").split(".").pop();
    const shape = /pattern|string_too|too_short|too_long|parsing|type/.test(item.type || "");
    found[field] = (shape && SHAPES[field]) || item.message || "Not valid.";
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
