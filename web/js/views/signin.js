// Signed out: the hosted login in AWS; locally, the link `make run` prints, or a pasted `make -s token`.
import * as auth from "../auth.js";
import { h, message, replace } from "../dom.js";

export function signInView(main, { expired, retry }) {
  const intro = expired ? "Your sign-in has expired." : "Sign in to see your tenant's costs and budgets.";
  if (auth.isOidc()) {
    replace(main, h("h1", { tabindex: "-1" }, "Sign in"), message("info", h("p", {}, intro)),
      h("button", { type: "button", class: "primary", onclick: () => auth.startOidcSignIn() }, "Sign in"));
    return;
  }
  const input = h("input", { id: "token-input", name: "token", type: "password", autocomplete: "off", required: true, spellcheck: "false" });
  const form = h("form", {
    class: "stack",
    onsubmit: (event) => {
      event.preventDefault();
      sessionStorage.setItem("finops.token", input.value.trim());
      retry();
    },
  },
  h("label", { for: "token-input" }, "Local token"),
  input,
  h("p", { class: "hint" }, "Print one with ", h("code", {}, "make -s token TENANT=demo ROLE=admin"), " (ROLE=user for a read-only view)."),
  h("button", { type: "submit", class: "primary" }, "Sign in"));
  replace(main, h("h1", { tabindex: "-1" }, "Sign in"),
    message("info", h("p", {}, intro, " ", h("code", {}, "make run"), " prints a link that signs you in as the demo tenant's admin; open it, or paste a token below.")),
    form);
}

/** A system token names no tenant: ask which one to look at. */
export function tenantPickerView(main, go) {
  const input = h("input", { id: "tenant-input", name: "tenant", required: true, pattern: "[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}" });
  replace(main, h("h1", { tabindex: "-1" }, "Choose a tenant"),
    h("form", { class: "stack", onsubmit: (event) => { event.preventDefault(); go(input.value.trim()); } },
      h("label", { for: "tenant-input" }, "Tenant id"), input,
      h("button", { type: "submit", class: "primary" }, "Open")));
}
