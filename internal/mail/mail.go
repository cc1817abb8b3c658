// Package mail renders leadrelay's emails from embedded templates and sends
// them over SMTP with go-mail. Every message carries a Message-ID derived from
// its business key, so a resend after a crash is recognisably the same email.
package mail

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"io/fs"
	netmail "net/mail"
	"path"
	"strings"
	texttemplate "text/template"
	"time"
	"unicode"

	gomail "github.com/wneessen/go-mail"

	"github.com/leadrelay/leadrelay/internal/config"
)

//go:embed templates/*
var templateFS embed.FS

var (
	textT, subjectT = splitSubjects()
	htmlT           = htmltemplate.Must(htmltemplate.ParseFS(templateFS, "templates/*.html"))
)

// splitSubjects parses each text template's first line (its subject) apart
// from its body, so the subject is rendered on its own: a name holding a
// newline then cannot push half the subject into the body.
func splitSubjects() (body, subject *texttemplate.Template) {
	body, subject = texttemplate.New("body"), texttemplate.New("subject")
	names, err := fs.Glob(templateFS, "templates/*.txt")
	if err != nil {
		panic(err)
	}
	for _, p := range names {
		b, err := templateFS.ReadFile(p)
		if err != nil {
			panic(err)
		}
		first, rest, _ := strings.Cut(string(b), "\n")
		name := path.Base(p)
		texttemplate.Must(subject.New(name).Parse(first))
		texttemplate.Must(body.New(name).Parse(rest))
	}
	return body, subject
}

// oneLine makes a rendered subject one header line: control characters
// (CR, LF, tab and the rest of Cc) and the Unicode line and paragraph
// separators become spaces, and runs of spaces one.
func oneLine(s string) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			return ' '
		}
		return r
	}, s)
	return strings.Join(strings.Fields(s), " ")
}

// ErrTemplate marks a rendering failure: retrying cannot fix it.
var ErrTemplate = errors.New("email template")

// Message is one rendered email to one recipient.
type Message struct {
	Key       string // unique business key, e.g. "purchase:<lead>:<to>"
	MessageID string
	To        string
	Subject   string
	Text      string
	HTML      string
}

// Render builds the message for template name ("purchase", ...): the subject
// is the text template's first line.
func Render(name, key, to, domain string, data any) (Message, error) {
	var sb, tb, hb bytes.Buffer
	if err := subjectT.ExecuteTemplate(&sb, name+".txt", data); err != nil {
		return Message{}, fmt.Errorf("%w %s.txt subject: %v", ErrTemplate, name, err)
	}
	if err := textT.ExecuteTemplate(&tb, name+".txt", data); err != nil {
		return Message{}, fmt.Errorf("%w %s.txt: %v", ErrTemplate, name, err)
	}
	if err := htmlT.ExecuteTemplate(&hb, name+".html", data); err != nil {
		return Message{}, fmt.Errorf("%w %s.html: %v", ErrTemplate, name, err)
	}
	return Message{
		Key:       key,
		MessageID: MessageID(key, domain),
		To:        to,
		Subject:   strings.TrimPrefix(oneLine(sb.String()), "Subject: "),
		Text:      strings.TrimLeft(tb.String(), "\n"),
		HTML:      hb.String(),
	}, nil
}

// MessageID is deterministic in the key.
func MessageID(key, domain string) string {
	h := sha256.Sum256([]byte(key))
	return hex.EncodeToString(h[:16]) + "@" + domain
}

// Sender delivers messages to one SMTP server.
type Sender struct {
	smtp   config.SMTP
	from   string
	Domain string // right-hand side of Message-IDs
}

// NewSender checks SMTP_URL and MAIL_FROM once, so a bad setting fails at
// start, and takes the Message-ID domain from the sender's address.
func NewSender(smtpURL, from string) (*Sender, error) {
	s, err := config.ParseSMTPURL(smtpURL)
	if err != nil {
		return nil, fmt.Errorf("SMTP_URL: %w", err)
	}
	a, err := netmail.ParseAddress(from)
	if err != nil {
		return nil, fmt.Errorf("MAIL_FROM: %w", err)
	}
	domain := "leadrelay.local"
	if i := strings.LastIndexByte(a.Address, '@'); i >= 0 && i < len(a.Address)-1 {
		domain = a.Address[i+1:]
	}
	return &Sender{smtp: s, from: from, Domain: domain}, nil
}

// Send opens one SMTP conversation for m. STARTTLS is used when the server
// offers it (smtp://); smtps:// is implicit TLS.
func (s *Sender) Send(ctx context.Context, m Message) error {
	msg := gomail.NewMsg()
	if err := msg.From(s.from); err != nil {
		return fmt.Errorf("from: %w", err)
	}
	if err := msg.To(m.To); err != nil {
		return fmt.Errorf("to %q: %w", m.To, err)
	}
	msg.Subject(m.Subject)
	msg.SetMessageIDWithValue(m.MessageID)
	msg.SetDate()
	msg.SetGenHeader("X-Leadrelay-Key", m.Key)
	msg.SetBodyString(gomail.TypeTextPlain, m.Text)
	if m.HTML != "" {
		msg.AddAlternativeString(gomail.TypeTextHTML, m.HTML)
	}
	opts := []gomail.Option{gomail.WithPort(s.smtp.Port), gomail.WithTimeout(20 * time.Second),
		gomail.WithTLSConfig(&tls.Config{ServerName: s.smtp.Host, MinVersion: tls.VersionTLS12})}
	if s.smtp.ImplicitTLS {
		opts = append(opts, gomail.WithSSL())
	} else {
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSOpportunistic))
	}
	if s.smtp.User != "" {
		opts = append(opts, gomail.WithSMTPAuth(gomail.SMTPAuthAutoDiscover),
			gomail.WithUsername(s.smtp.User), gomail.WithPassword(s.smtp.Pass))
	}
	c, err := gomail.NewClient(s.smtp.Host, opts...)
	if err != nil {
		return err
	}
	return c.DialAndSendWithContext(ctx, msg)
}
