package console

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"strings"
	"time"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed assets/*
var assetFS embed.FS

// pages are the parsed templates, by file name: each is the layout with
// one page's "content".
var pages = parsePages()

func parsePages() map[string]*template.Template {
	base := template.Must(template.New("layout.html").Funcs(template.FuncMap{
		"time":    showTime,
		"timeptr": showTimePtr,
		"seg":     url.PathEscape,
		"join":    strings.Join,
		"asset":   assetURL,
		"inc":     func(n int) int { return n + 1 },
		"country": countryName,
		"iso":     func(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) },
		"history": func(caption string, rows []historyRow) historyTable { return historyTable{caption, rows} },
	}).ParseFS(templateFS, "templates/layout.html"))
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		panic(err)
	}
	out := map[string]*template.Template{}
	for _, name := range names {
		name = strings.TrimPrefix(name, "templates/")
		if name == "layout.html" {
			continue
		}
		out[name] = template.Must(template.Must(base.Clone()).ParseFS(templateFS, "templates/"+name))
	}
	return out
}

// historyTable is what the "history" template shows.
type historyTable struct {
	Caption string
	Rows    []historyRow
}

// assetVersions are a digest of each asset, for URLs that change when the
// asset does.
var assetVersions = func() map[string]string {
	out := map[string]string{}
	entries, _ := assetFS.ReadDir("assets")
	for _, e := range entries {
		raw, _ := assetFS.ReadFile("assets/" + e.Name())
		sum := sha256.Sum256(raw)
		out[e.Name()] = hex.EncodeToString(sum[:6])
	}
	return out
}()

func assetURL(name string) string { return "/assets/" + name + "?v=" + assetVersions[name] }

// serveAsset serves an embedded asset; a URL with its current version may
// be cached for a long time.
func serveAsset(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	raw, err := assetFS.ReadFile("assets/" + name)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	switch {
	case strings.HasSuffix(name, ".css"):
		w.Header().Set("Content-Type", "text/css; charset=utf-8")
	case strings.HasSuffix(name, ".js"):
		w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
	case strings.HasSuffix(name, ".svg"):
		w.Header().Set("Content-Type", "image/svg+xml")
	}
	if r.URL.Query().Get("v") == assetVersions[name] {
		w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		w.Header().Set("Cache-Control", "no-cache")
	}
	w.Write(raw)
}

// frame is what the layout shows around every page.
type frame struct {
	Title     string
	Account   string // the account the page belongs to; "" outside one
	Section   string // the navigation entry of the page
	CSRF      string // the session's CSRF token, for the forms
	SignedIn  bool
	Flash     flash
	Now       time.Time // the ledger's clock
	TokenFile string
	// EveryAccount: the token reaches every account, so that the API's
	// integrity status is the whole ledger's, not the page's account's.
	EveryAccount bool
}

// frame is the frame of a signed-in page of account (may be "").
func (c *Console) frame(s session, account, section, title string) frame {
	return frame{Title: title, Account: account, Section: section, CSRF: s.csrf, SignedIn: true,
		Flash: c.sessions.takeFlash(s.id), Now: c.now().UTC(), TokenFile: c.tokenFile, EveryAccount: s.everyAccount}
}

// render answers a page. It is executed whole before anything is sent, so
// that a template's failure is a clean 500.
func (c *Console) render(w http.ResponseWriter, r *http.Request, status int, name string, data any) {
	t, ok := pages[name]
	var buf bytes.Buffer
	if !ok {
		c.logger.Error("console: no such template", "template", name)
		http.Error(w, "internal error; it has been logged", http.StatusInternalServerError)
		return
	}
	if err := t.ExecuteTemplate(&buf, "layout.html", data); err != nil {
		c.logger.Error("console: rendering a page", "template", name, logKeyPath, r.URL.Path, logKeyErr, err)
		http.Error(w, "internal error; it has been logged", http.StatusInternalServerError)
		return
	}
	switch {
	case status == 0:
		status = http.StatusOK // as net/http answers a handler that set none; WriteHeader(0) panics
	case status < 100 || status > 999:
		c.logger.Error("console: a page with an invalid status", "status", status, logKeyPath, r.URL.Path)
		status = http.StatusInternalServerError
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// problemPage is a page that says what went wrong.
type problemPage struct {
	frame
	Status int
	Text   string
}

// renderProblem answers a problem outside a session.
func (c *Console) renderProblem(w http.ResponseWriter, r *http.Request, status int, text, account string) {
	if s, ok := c.sessionOf(r); ok {
		c.renderProblemIn(w, r, s, status, text, account)
		return
	}
	c.render(w, r, status, "problem.html", problemPage{frame: frame{Title: http.StatusText(status), Now: c.now().UTC()},
		Status: status, Text: text})
}

// renderProblemIn answers a problem in a session, with its navigation.
func (c *Console) renderProblemIn(w http.ResponseWriter, r *http.Request, s session, status int, text, account string) {
	c.render(w, r, status, "problem.html", problemPage{frame: c.frame(s, account, "", http.StatusText(status)),
		Status: status, Text: text})
}

// consolePath joins escaped segments under /accounts/{account}.
func consolePath(account string, segments ...string) string {
	var b strings.Builder
	b.WriteString("/accounts/")
	b.WriteString(url.PathEscape(account))
	for _, s := range segments {
		b.WriteByte('/')
		b.WriteString(url.PathEscape(s))
	}
	return b.String()
}

// redirect sends the browser to a page after a form (303: it GETs it).
func redirect(w http.ResponseWriter, r *http.Request, to string) {
	http.Redirect(w, r, to, http.StatusSeeOther)
}
