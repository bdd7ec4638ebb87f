// Scanner-first capture. An MRZ reader types the zone as keystrokes, each line ending with Enter.
// When the last line ends, the zone is read on the server (the same parser as "Read MRZ"), the
// fields fill, check-digit problems are shown, and focus moves to Direction. Enter in the MRZ box
// never submits; Enter in a field, or Ctrl+Enter anywhere, saves and screens. Without JavaScript
// the "Read MRZ" button does the same with a page reload. Its sentences come from the page (data-msg-*),
// in the reader's language.
(function () {
  "use strict";
  var form = document.querySelector("form[data-capture]");
  if (!form) { return; }
  var mrz = form.elements.mrz;
  var save = form.elements.save;
  var readButton = form.elements.read_mrz;
  var statusBox = document.getElementById("mrz-status");
  var token = form.elements.csrf_token.value;
  var SHAPES = { "44,44": true, "36,36": true, "30,30,30": true };
  var UNBROKEN = { 88: 44, 72: 36, 90: 30 };  // a reader that sends no line breaks

  function lines(text) {
    return text.split(/\r?\n/).map(function (l) { return l.replace(/\s+/g, "").toUpperCase(); })
      .filter(function (l) { return l.length > 0; });
  }

  function zone(text) {
    var ls = lines(text);
    if (ls.length === 1 && UNBROKEN[ls[0].length]) {
      var n = UNBROKEN[ls[0].length], out = [];
      for (var i = 0; i < ls[0].length; i += n) { out.push(ls[0].slice(i, i + n)); }
      ls = out;
    }
    return SHAPES[ls.map(function (l) { return l.length; }).join(",")] ? ls.join("\n") : null;
  }

  function show(kind, message, items) {
    statusBox.className = "alert alert-" + kind + " py-2 mt-2";
    statusBox.textContent = "";
    var p = document.createElement("p");
    p.className = "mb-0";
    p.textContent = message;
    statusBox.appendChild(p);
    if (items && items.length) {
      var ul = document.createElement("ul");
      ul.className = "mb-0";
      items.forEach(function (text) {
        var li = document.createElement("li");
        li.textContent = text;
        ul.appendChild(li);
      });
      statusBox.appendChild(ul);
    }
  }

  function read(text) {
    show("secondary", form.getAttribute("data-msg-reading"));
    fetch(form.getAttribute("data-mrz-url"), {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": token },
      body: JSON.stringify({ mrz: text })
    }).then(function (resp) { return resp.json(); }).then(function (answer) {
      if (answer.errors && answer.errors.length) {
        show("danger", answer.message || form.getAttribute("data-msg-unreadable"), answer.errors);
        mrz.focus();
        mrz.select();  // the next scan replaces the bad one
        return;
      }
      Object.keys(answer.fields || {}).forEach(function (name) {
        if (form.elements[name]) { form.elements[name].value = answer.fields[name]; }
      });
      if (answer.check_digit_errors && answer.check_digit_errors.length) {
        show("danger", answer.message, answer.check_digit_errors);
      } else {
        show("success", answer.message);
      }
      form.elements.direction.focus();
    }).catch(function () {
      show("warning", form.getAttribute("data-msg-unsent"));
    });
  }

  mrz.addEventListener("keydown", function (ev) {
    if (ev.key !== "Enter" || ev.ctrlKey || ev.metaKey) { return; }
    var text = zone(mrz.value);
    if (text) {  // the last line just ended: read it, add no blank line, submit nothing
      ev.preventDefault();
      read(text);
    }
  });
  mrz.addEventListener("paste", function () {
    setTimeout(function () { var text = zone(mrz.value); if (text) { read(text); } }, 0);
  });
  if (readButton) {
    readButton.addEventListener("click", function (ev) {
      var text = zone(mrz.value);
      if (text) { ev.preventDefault(); read(text); }  // otherwise the server explains what is wrong
    });
  }

  form.addEventListener("keydown", function (ev) {
    if (ev.key !== "Enter" || ev.defaultPrevented) { return; }
    var t = ev.target;
    if (ev.ctrlKey || ev.metaKey) {
      ev.preventDefault();
      form.requestSubmit(save);
      return;
    }
    if (t === mrz || t.tagName === "TEXTAREA" || t.tagName === "BUTTON" || t.type === "submit") { return; }
    if (t.tagName === "INPUT" || t.tagName === "SELECT") {  // the default button would be "Read MRZ"
      ev.preventDefault();
      form.requestSubmit(save);
    }
  });
})();
