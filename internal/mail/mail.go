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
	netmail "net/mail"
	"strings"
	texttemplate "text/template"
	"time"

	gomail "github.com/wneessen/go-mail"

	"github.com/leadrelay/leadrelay/internal/config"
)

//go:embed templates/*
var templateFS embed.FS

var (
	textT = texttemplate.Must(texttemplate.ParseFS(templateFS, "templates/*.txt"))
	htmlT = htmltemplate.Must(htmltemplate.ParseFS(templateFS, "templates/*.html"))
)

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
	var tb, hb bytes.Buffer
	if err := textT.ExecuteTemplate(&tb, name+".txt", data); err != nil {
		return Message{}, fmt.Errorf("%w %s.txt: %v", ErrTemplate, name, err)
	}
	if err := htmlT.ExecuteTemplate(&hb, name+".html", data); err != nil {
		return Message{}, fmt.Errorf("%w %s.html: %v", ErrTemplate, name, err)
	}
	subject, body, _ := strings.Cut(tb.String(), "\n")
	return Message{
		Key:       key,
		MessageID: MessageID(key, domain),
		To:        to,
		Subject:   strings.TrimPrefix(strings.TrimSpace(subject), "Subject: "),
		Text:      strings.TrimLeft(body, "\n"),
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
