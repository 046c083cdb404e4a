// Inside Telegram (a Mini App), Telegram puts its signed initData in the page's fragment;
// handing it to sopbot signs the person in without a link.
"use strict";
(function () {
  const fragment = new URLSearchParams(location.hash.slice(1));
  const initData = fragment.get("tgWebAppData");
  if (!initData) return;
  fetch("/app/miniapp", { method: "POST", body: initData, credentials: "same-origin" }).then((r) => {
    if (r.ok) location.replace("/app/");
    else document.getElementById("miniapp-refused").hidden = false;
  });
})();
