// The deployment run page's keys (j/k, n, x or Space, a). Keys typed into a field, or with Ctrl/Alt/Meta, are left alone;
// Space keeps its own meaning on buttons and check boxes. The page decides what each key does (OnShortcutAsync).
const keys = new Set(["j", "k", "n", "x", " ", "a"]);

function typing(element) {
    if (!element) return false;
    if (element.isContentEditable) return true;
    const tag = element.tagName;
    if (tag === "TEXTAREA" || tag === "SELECT") return true;
    return tag === "INPUT" && !["checkbox", "radio", "button", "submit", "reset"].includes(element.type);
}

export function listen(page) {
    const handler = event => {
        if (event.defaultPrevented || event.ctrlKey || event.altKey || event.metaKey || typing(event.target)) return;
        const key = event.key.length === 1 ? event.key.toLowerCase() : event.key;
        if (!keys.has(key)) return;
        const row = event.target instanceof Element ? event.target.closest("[data-testid=item]") : null;
        if ((key === "x" || key === "a") && !row) return;
        if (key === " " && event.target !== row) return;
        event.preventDefault();
        page.invokeMethodAsync("OnShortcutAsync", key === " " ? "space" : key, row ? row.dataset.key : null);
    };
    document.addEventListener("keydown", handler);
    // Marks that the keys act from now on (the page is prerendered, so it shows before its keys are listened to).
    document.body.dataset.runKeys = "listening";
    return {
        dispose: () => {
            document.removeEventListener("keydown", handler);
            delete document.body.dataset.runKeys;
        }
    };
}

export function focusElement(id) {
    const element = document.getElementById(id);
    if (!element) return;
    element.focus({ preventScroll: true });
    element.scrollIntoView({ block: "center" });
}
