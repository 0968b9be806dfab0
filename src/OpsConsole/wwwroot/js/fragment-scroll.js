// Scrolls to the element an address's #fragment names once it exists: the overview links into pages whose content
// arrives after the first render (/deployments/{run}#check-{probe}), where the browser's own jump finds nothing, and an
// interactive render that replaces the prerendered element would lose it. Each new element for the address is scrolled
// to, for a few seconds after the address changed, until the reader scrolls themselves.
(() => {
    const settleMs = 5000;
    let address = null, since = 0, scrolled = null, readerMoved = false;
    const reader = () => { readerMoved = true; };
    ["wheel", "touchmove", "keydown"].forEach(e => addEventListener(e, reader, { passive: true }));
    const check = () => {
        if (location.href !== address) {
            address = location.href; since = Date.now(); scrolled = null; readerMoved = false;
        }
        if (!location.hash || readerMoved || Date.now() - since > settleMs) {
            return;
        }
        const target = document.getElementById(decodeURIComponent(location.hash.slice(1)));
        if (target && target !== scrolled) {
            scrolled = target;
            target.scrollIntoView({ block: "start" });
        }
    };
    new MutationObserver(check).observe(document.documentElement, { childList: true, subtree: true });
    addEventListener("hashchange", check);
    check();
})();
