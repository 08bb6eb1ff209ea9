package ui

import (
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"html/template"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/dspyfleet/dspyfleet/controlplane/auth"
)

// Cookie and header names.
const (
	sessionCookie = "dspyfleet_session"
	csrfHeader    = "X-CSRF-Token"
	// maxSessions bounds the sessions kept; the oldest goes first past it.
	maxSessions = 1000
)

// session is one login: the token it presents to the services, the token's role and the CSRF
// token its changes must carry.
type session struct {
	id, token, csrf string
	role            auth.Role
	expires         time.Time
}

// sessions are the logins in memory: a restart logs everyone out.
type sessions struct {
	now func() time.Time
	ttl time.Duration

	mu   sync.Mutex
	byID map[string]*session
}

func newSessions(now func() time.Time, ttl time.Duration) *sessions {
	return &sessions{now: now, ttl: ttl, byID: make(map[string]*session)}
}

// create starts a session for token with role.
func (ss *sessions) create(token string, role auth.Role) *session {
	s := &session{id: rand.Text(), csrf: rand.Text(), token: token, role: role, expires: ss.now().Add(ss.ttl)}
	ss.mu.Lock()
	defer ss.mu.Unlock()
	now := ss.now()
	for id, o := range ss.byID {
		if now.After(o.expires) {
			delete(ss.byID, id)
		}
	}
	if len(ss.byID) >= maxSessions {
		var oldest *session
		for _, o := range ss.byID {
			if oldest == nil || o.expires.Before(oldest.expires) {
				oldest = o
			}
		}
		delete(ss.byID, oldest.id)
	}
	ss.byID[s.id] = s
	return s
}

// get returns the live session id names.
func (ss *sessions) get(id string) (*session, bool) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	s, ok := ss.byID[id]
	if !ok || ss.now().After(s.expires) {
		delete(ss.byID, id)
		return nil, false
	}
	return s, true
}

// end forgets the session id names.
func (ss *sessions) end(id string) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	delete(ss.byID, id)
}

// current returns the request's session. Without authentication every visitor gets one
// (anonymous, allowed what the API allows anyone), so changes still carry a CSRF token.
func (h *Handler) current(w http.ResponseWriter, r *http.Request) (*session, bool) {
	if c, err := r.Cookie(sessionCookie); err == nil {
		if s, ok := h.sessions.get(c.Value); ok {
			return s, true
		}
	}
	if h.cfg.Authenticates {
		return nil, false
	}
	s := h.sessions.create("", auth.RoleAnyone)
	h.setCookie(w, s)
	return s, true
}

// setCookie hands the browser the session id: HttpOnly (no script reads it), SameSite=Strict
// (no other site's page sends it), Secure behind TLS.
func (h *Handler) setCookie(w http.ResponseWriter, s *session) {
	http.SetCookie(w, &http.Cookie{
		Name: sessionCookie, Value: s.id, Path: "/ui/", Expires: s.expires,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: h.cfg.Secure,
	})
}

// withSession serves next only to a request with a session.
func (h *Handler) withSession(next func(http.ResponseWriter, *http.Request, *session)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s, ok := h.current(w, r)
		if !ok {
			writeError(w, http.StatusUnauthorized, errNoSession.Error())
			return
		}
		next(w, r, s)
	}
}

// withWrite serves next only to a session whose role may change state and whose request
// carries its CSRF token.
func (h *Handler) withWrite(next func(http.ResponseWriter, *http.Request, *session)) http.HandlerFunc {
	return h.withSession(func(w http.ResponseWriter, r *http.Request, s *session) {
		if subtle.ConstantTimeCompare([]byte(r.Header.Get(csrfHeader)), []byte(s.csrf)) != 1 {
			writeError(w, http.StatusForbidden, "missing or wrong "+csrfHeader+" header: reload the page")
			return
		}
		if !s.role.CanWrite() {
			writeError(w, http.StatusForbidden, "the "+s.role.String()+" token may look but not change anything: log in with the admin token")
			return
		}
		next(w, r, s)
	})
}

// sessionInfo is what the page learns of its session.
type sessionInfo struct {
	Role          string `json:"role"`
	CanWrite      bool   `json:"canWrite"`
	CSRF          string `json:"csrf"`
	Authenticates bool   `json:"authenticates"`
}

func (h *Handler) session(w http.ResponseWriter, _ *http.Request, s *session) {
	writeJSON(w, sessionInfo{Role: s.role.String(), CanWrite: s.role.CanWrite(), CSRF: s.csrf, Authenticates: h.cfg.Authenticates})
}

var loginTemplate = template.Must(template.ParseFS(staticFS, "static/login.html"))

// loginPage shows the login form, or the dashboard to a visitor who needs none.
func (h *Handler) loginPage(w http.ResponseWriter, r *http.Request) {
	if !h.cfg.Authenticates {
		http.Redirect(w, r, "/ui/", http.StatusSeeOther)
		return
	}
	h.renderLogin(w, http.StatusOK, "")
}

func (h *Handler) renderLogin(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(code)
	_ = loginTemplate.Execute(w, map[string]string{"Error": msg})
}

// maxLoginBytes bounds a login form.
const maxLoginBytes = 4 << 10

// login checks the token of the form and starts a session.
func (h *Handler) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxLoginBytes)
	if err := r.ParseForm(); err != nil {
		h.renderLogin(w, http.StatusBadRequest, "token: the form could not be read ("+err.Error()+")")
		return
	}
	token := r.PostForm.Get("token")
	if token == "" {
		h.renderLogin(w, http.StatusBadRequest, "token: paste the admin or read-only token")
		return
	}
	role, err := h.cfg.Login(r.Context(), r.RemoteAddr, token)
	switch {
	case errors.Is(err, auth.ErrThrottled):
		if te := (*auth.ThrottledError)(nil); errors.As(err, &te) {
			w.Header().Set("Retry-After", strconv.Itoa(int((te.Wait+time.Second-1)/time.Second)))
		}
		h.renderLogin(w, http.StatusTooManyRequests, err.Error())
		return
	case err != nil:
		h.cfg.Log.Warn("dashboard login refused", "remote", r.RemoteAddr, "err", err)
		h.renderLogin(w, http.StatusUnauthorized, "token: "+err.Error())
		return
	}
	s := h.sessions.create(token, role)
	h.setCookie(w, s)
	h.cfg.Log.Info("dashboard login", "remote", r.RemoteAddr, "role", role)
	http.Redirect(w, r, "/ui/", http.StatusSeeOther)
}

// logout ends the session.
func (h *Handler) logout(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(sessionCookie); err == nil {
		h.sessions.end(c.Value)
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Path: "/ui/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: h.cfg.Secure})
	http.Redirect(w, r, "/ui/login", http.StatusSeeOther)
}
