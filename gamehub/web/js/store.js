// What the views share: the signed-in user, the wallet, the games catalogue.
import { get } from "./api.js";
import { emit } from "./bus.js";

export const store = { user: null, wallet: null, games: null };

export function setUser(user) {
  store.user = user;
  emit("user", user);
}

let held = 0; // while > 0, wallet changes wait (a spin's wheel is still turning)
let waiting = null;

export function setWallet(wallet) {
  if (held > 0) {
    waiting = wallet; // the latest wins: a wallet event is "the wallet as it is now"
    return;
  }
  store.wallet = wallet;
  emit("wallet", wallet);
}

/** Hold every wallet change until `work` settles: the balance must not give a spin's result
 * away before the wheel lands. */
export async function withWalletHeld(work) {
  held += 1;
  try {
    return await work();
  } finally {
    held -= 1;
    if (held === 0 && waiting) {
      const latest = waiting;
      waiting = null;
      setWallet(latest);
    }
  }
}

export async function refreshWallet() {
  setWallet(await get("/wallet"));
}

let loadingGames = null;
export function games() {
  if (store.games) return Promise.resolve(store.games);
  loadingGames ??= get("/games")
    .then((data) => {
      store.games = Object.fromEntries(data.games.map((game) => [game.slug, game]));
      return store.games;
    })
    .finally(() => {
      loadingGames = null;
    });
  return loadingGames;
}

export function reset() {
  waiting = null;
  store.user = null;
  store.wallet = null;
  store.games = null;
}
