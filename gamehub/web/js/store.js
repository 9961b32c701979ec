// What the views share: the signed-in user, the wallet, the games catalogue.
import { get } from "./api.js";
import { emit } from "./bus.js";

export const store = { user: null, wallet: null, games: null };

export function setUser(user) {
  store.user = user;
  emit("user", user);
}

export function setWallet(wallet) {
  store.wallet = wallet;
  emit("wallet", wallet);
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
  store.user = null;
  store.wallet = null;
  store.games = null;
}
