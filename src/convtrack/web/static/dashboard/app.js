// The dashboard shell: which page this is, the navigation, sign-out, then the page's module.
import { signOut } from "./api.js";
import { el } from "./dom.js";

const PAGES = {
  overview: () => import("./overview.js"),
  attribution: () => import("./attribution.js"),
  health: () => import("./health.js"),
  debugger: () => import("./debugger.js"),
};

function currentPage() {
  const name = location.pathname.split("/")[2];
  return Object.hasOwn(PAGES, name || "") ? name : "overview";
}

async function main() {
  const name = currentPage();
  for (const link of document.querySelectorAll("header nav a")) {
    if (link.dataset.page === name) link.setAttribute("aria-current", "page");
  }
  document.getElementById("signout").addEventListener("click", () => signOut());
  const root = document.getElementById("page");
  try {
    const page = await PAGES[name]();
    await page.render(root);
  } catch (error) {
    root.replaceChildren(el("p", { class: "error" }, `The page failed: ${error.message}`));
    throw error;
  } finally {
    document.body.dataset.page = name;
    document.body.dataset.state = "ready";
  }
}

main();
