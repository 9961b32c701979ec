// Log in and register (with date of birth); the tokens go to tokens.js.
import { post } from "./api.js";
import { emit } from "./bus.js";
import { saveSession } from "./tokens.js";
import { $, busy, clearFormErrors, formError } from "./ui.js";

function adultLimit() {
  const today = new Date();
  const limit = new Date(today.getFullYear() - 18, today.getMonth(), today.getDate());
  return limit.toISOString().slice(0, 10);
}

async function signIn(form, call) {
  clearFormErrors(form);
  const button = form.querySelector("button[type=submit]");
  try {
    const data = await busy(button, call);
    saveSession(data);
    form.reset();
    emit("signed-in", data.user);
  } catch (error) {
    formError(form, error);
  }
}

export function initAuth() {
  const login = $("#login-form");
  const register = $("#register-form");
  $("#reg-dob").max = adultLimit();

  login.addEventListener("submit", (event) => {
    event.preventDefault();
    const identifier = login.identifier.value.trim();
    const body = { password: login.password.value };
    if (identifier.includes("@")) body.email = identifier;
    else body.username = identifier;
    signIn(login, () => post("/login", body, { auth: false }));
  });

  register.addEventListener("submit", (event) => {
    event.preventDefault();
    const body = {
      username: register.username.value.trim(),
      email: register.email.value.trim(),
      password: register.password.value,
      date_of_birth: register.date_of_birth.value,
    };
    const phone = register.phone.value.trim();
    if (phone) body.phone = phone;
    signIn(register, () => post("/register", body, { auth: false }));
  });
}
