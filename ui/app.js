"use strict";

// The UI only renders what the core reports; it never sees a token.
document.documentElement.dataset.ready = "true";
