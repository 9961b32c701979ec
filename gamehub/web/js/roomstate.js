// A room's state on the client: the events of the room stream applied to the last snapshot,
// and each event told as a sentence for the table's log.
import { formatCents, money, toCents } from "./ui.js";

export const ROOM_EVENTS = [
  "snapshot", "player_joined", "match_started", "turn", "bet_placed", "trigger_pulled",
  "bets_settled", "match_ended", "player_left", "room_cancelled",
];

function player(room, userId) {
  return room.players.find((p) => p.user_id === userId);
}

export function nameOf(room, userId, me) {
  if (userId === me) return "You";
  return player(room, userId)?.username ?? "A spectator";
}

/** Apply one live event to the room object (a copy is returned). */
export function apply(room, type, data) {
  const next = structuredClone(room);
  next.seq = data.seq ?? next.seq;
  switch (type) {
    case "player_joined":
      if (!player(next, data.user_id)) {
        next.players.push({ user_id: data.user_id, username: data.username, seat: data.seat, alive: true });
        next.players.sort((a, b) => a.seat - b.seat);
      }
      break;
    case "match_started":
      next.status = "playing";
      next.pot = data.pot;
      next.fairness = { ...next.fairness, server_seed_hash: data.server_seed_hash, client_seed: data.client_seed, nonce: data.nonce };
      break;
    case "turn":
      next.turn_user_id = data.shooter;
      next.turn_deadline = data.deadline;
      next.pull_number = data.pull_number - 1;
      next.chambers_left = 6 - next.pull_number;
      break;
    case "trigger_pulled":
      next.pull_number = data.pull_number;
      next.chambers_left = 6 - data.pull_number;
      next.turn_deadline = null;
      if (data.outcome === "bang") {
        const shooter = player(next, data.shooter);
        if (shooter) shooter.alive = false;
      }
      break;
    case "match_ended": {
      next.status = "finished";
      next.winner_user_id = data.winner;
      next.turn_user_id = null;
      next.turn_deadline = null;
      next.fairness = { ...next.fairness, server_seed: data.server_seed };
      const loser = player(next, data.loser);
      if (loser) loser.alive = false;
      break;
    }
    case "player_left":
      if (next.status === "waiting") next.players = next.players.filter((p) => p.user_id !== data.user_id);
      else if (player(next, data.user_id)) player(next, data.user_id).alive = false;
      break;
    case "room_cancelled":
      next.status = "cancelled";
      next.turn_user_id = null;
      next.turn_deadline = null;
      break;
    default:
      break;
  }
  return next;
}

/** The log line for an event, or null for events that need none. */
export function sentence(room, type, data, me) {
  const who = (id) => nameOf(room, id, me);
  switch (type) {
    case "player_joined":
      return `${data.user_id === me ? "You" : data.username} sat down for KES ${money(data.stake)}.`;
    case "match_started":
      return `Match started, pot KES ${money(data.pot)}. ${who(data.first_shooter)} ${data.first_shooter === me ? "shoot" : "shoots"} first. Server seed hash ${data.server_seed_hash.slice(0, 16)}…`;
    case "turn":
      return `Pull ${data.pull_number}: ${data.shooter === me ? "your" : `${who(data.shooter)}'s`} turn.`;
    case "bet_placed":
      return `${who(data.user_id)} bet KES ${money(data.bet_amount)} on ${data.bet_type} for pull ${data.pull_number} (×${data.odds}).`;
    case "trigger_pulled":
      return data.outcome === "bang"
        ? `Pull ${data.pull_number}: BANG. ${who(data.shooter)} ${data.shooter === me ? "are" : "is"} out${data.auto ? " (time ran out)" : ""}.`
        : `Pull ${data.pull_number}: click. ${who(data.shooter)} survived${data.auto ? " (pulled automatically, time ran out)" : ""}.`;
    case "bets_settled":
      return data.bets.length ? `Side bets on pull ${data.pull_number} settled: ${data.bets.map((b) => `${who(b.user_id)} ${b.outcome}${b.outcome === "won" ? ` +KES ${formatCents(toCents(b.payout) - toCents(b.bet_amount))} (paid ${money(b.payout)})` : ""}`).join(", ")}.` : null;
    case "match_ended":
      return `${who(data.winner)} ${data.winner === me ? "win" : "wins"} KES ${money(data.payout)} (rake KES ${money(data.rake)})${data.reason === "forfeit" ? " by forfeit" : ""}. Server seed revealed.`;
    case "player_left":
      return `${who(data.user_id)} left the table${data.forfeited ? `, forfeiting KES ${money(data.forfeited)}` : ""}.`;
    case "room_cancelled":
      return data.reason === "waiting_timeout" ? "Nobody joined in time: the table is cancelled and the stake refunded." : "The table is cancelled.";
    default:
      return null;
  }
}
