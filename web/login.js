// login.js — the sign-in page of `keten serve --tokens` (login.html): says
// when a token was refused (/login?failed), and signs in at once from a
// link /login#token=TOKEN.  A fragment is never sent to the server, so the
// token stays out of its log; it is taken out of the address bar and the
// history before the form is posted.
'use strict';
(function () {
	const form = document.getElementById('login');
	if (new URLSearchParams(location.search).has('failed'))
		document.getElementById('failed').hidden = false;
	const m = /^#token=([^&]+)$/.exec(location.hash);
	if (m && form) {
		history.replaceState(null, '', '/login');
		document.getElementById('token').value = decodeURIComponent(m[1]);
		form.submit();
	}
})();
