// The owner's subscription page, direct path: Stripe.js turns the typed card into a
// PaymentMethod through a SetupIntent that our server makes (POST .../card-setup), and the
// form posts only the PaymentMethod's id. The card's details go from the browser to Stripe.
// Forms marked data-card-form are set up on load and whenever htmx adds content.
(function () {
  "use strict";

  function showError(form, message) {
    var slot = form.querySelector("[data-card-error]");
    if (slot) slot.textContent = message;
  }

  async function setupSecret(form) {
    var token = form.querySelector("input[name=_csrf_token]");
    var response = await fetch(form.dataset.setupUrl, {
      method: "POST",
      credentials: "same-origin",
      headers: { "x-csrftoken": token ? token.value : "", Accept: "application/json" },
    });
    var body = await response.json().catch(function () { return {}; });
    if (!response.ok || !body.client_secret) {
      throw new Error(body.error || form.dataset.cardFailed);
    }
    return body.client_secret;
  }

  function mount(form) {
    var slot = form.querySelector("[data-card-element]");
    var field = form.querySelector("input[name=payment_method]");
    if (!slot || !field || form.dataset.cardMounted) return;
    form.dataset.cardMounted = "yes";
    if (typeof window.Stripe !== "function") {
      slot.textContent = slot.dataset.unavailable;
      return;
    }
    var stripe = window.Stripe(form.dataset.publishableKey, { locale: document.documentElement.lang });
    var card = stripe.elements().create("card");
    card.mount(slot);
    var filled = false;
    // Stripe's element says whether it is empty; a stand-in may send no event at all.
    card.on("change", function (event) { filled = event ? !event.empty : true; });

    form.addEventListener("submit", async function (event) {
      // Second round (the id is in) or the card on file is used: let the form go.
      if (field.value || (!filled && form.hasAttribute("data-card-optional"))) return;
      event.preventDefault();
      var button = event.submitter || form.querySelector("button[type=submit]");
      if (button) button.disabled = true;
      showError(form, "");
      try {
        var secret = await setupSecret(form);
        var result = await stripe.confirmCardSetup(secret, { payment_method: { card: card } });
        if (!result || result.error || !result.setupIntent) {
          throw new Error((result && result.error && result.error.message) || form.dataset.cardFailed);
        }
        field.value = result.setupIntent.payment_method;
        if (button) button.disabled = false;
        form.requestSubmit(button || undefined);
      } catch (error) {
        showError(form, (error && error.message) || form.dataset.cardFailed);
        if (button) button.disabled = false;
      }
    });
  }

  function scan(root) {
    if (root.matches && root.matches("form[data-card-form]")) mount(root);
    if (root.querySelectorAll) root.querySelectorAll("form[data-card-form]").forEach(mount);
  }

  scan(document);
  document.addEventListener("htmx:load", function (event) { scan(event.detail.elt); });
})();
