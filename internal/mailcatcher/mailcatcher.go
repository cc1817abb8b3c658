// Package mailcatcher is an SMTP server that keeps what it receives in memory
// and shows it as an inbox web page. `starter dev` uses it as the mail
// catcher; tests use it as the SMTP sink and count what arrived.
package mailcatcher

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net"
	"net/mail"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-smtp"
)

// Message is one received email.
type Message struct {
	ID        int       `json:"id"`
	From      string    `json:"from"`
	To        []string  `json:"to"`
	Subject   string    `json:"subject"`
	MessageID string    `json:"message_id"`
	Key       string    `json:"key"`
	Received  time.Time `json:"received"`
	Text      string    `json:"text"`
	HTML      string    `json:"html"`
	Raw       string    `json:"-"`
}

// Catcher holds the inbox and the SMTP listener.
type Catcher struct {
	mu   sync.Mutex
	msgs []Message
	srv  *smtp.Server
	ln   net.Listener
	addr string
	// down and refuse simulate outages without giving up the port, so no
	// other process can take it while a test counts on it being dead.
	down       bool
	refuse     int             // RCPT TO answer for refuseTo (all when empty)
	refuseTo   map[string]bool // recipients refused; nil: every one
	refuseFrom int             // MAIL FROM answer
	delay      time.Duration   // before a message's data is accepted: a slow server
}

// Start listens for SMTP on addr ("127.0.0.1:0" picks a free port).
func Start(addr string) (*Catcher, error) {
	c := &Catcher{}
	if err := c.listen(addr); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *Catcher) listen(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("mail catcher: %w", err)
	}
	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) {
		c.mu.Lock()
		down := c.down
		c.mu.Unlock()
		if down {
			return nil, &smtp.SMTPError{Code: 421, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "service not available (outage)"}
		}
		return &session{c: c}, nil
	}))
	srv.Domain = "localhost"
	srv.ReadTimeout = 30 * time.Second
	srv.WriteTimeout = 30 * time.Second
	srv.MaxMessageBytes = 10 << 20
	srv.MaxRecipients = 100
	srv.AllowInsecureAuth = true
	c.mu.Lock()
	c.srv, c.ln, c.addr = srv, ln, ln.Addr().String()
	c.mu.Unlock()
	// Serve returns once Close has shut the listener; the catcher has no log
	// to report anything else to, and tests see a dead one as mail not arriving.
	go func() { _ = srv.Serve(ln) }()
	return nil
}

// Addr is host:port of the SMTP listener.
func (c *Catcher) Addr() string { c.mu.Lock(); defer c.mu.Unlock(); return c.addr }

// URL is the SMTP_URL that reaches this catcher.
func (c *Catcher) URL() string { return "smtp://" + c.Addr() }

// Stop starts an outage: every conversation is refused with a temporary 421
// (the inbox stays). The port stays bound, so a test's "unreachable" server
// cannot be replaced by another process picking the same port.
func (c *Catcher) Stop() error {
	c.mu.Lock()
	c.down = true
	c.mu.Unlock()
	return nil
}

// Resume ends the outage that Stop began.
func (c *Catcher) Resume() error {
	c.mu.Lock()
	c.down = false
	c.mu.Unlock()
	return nil
}

// Refuse makes RCPT TO answer code (e.g. 550, a permanent refusal) for the
// given recipients, or for every one when none is given; 0 accepts again.
func (c *Catcher) Refuse(code int, recipients ...string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.refuse, c.refuseTo = code, nil
	if len(recipients) > 0 {
		c.refuseTo = map[string]bool{}
		for _, r := range recipients {
			c.refuseTo[strings.ToLower(r)] = true
		}
	}
}

// Delay makes the server wait d before it accepts each message's data, as a
// slow mail server does; 0 answers at once.
func (c *Catcher) Delay(d time.Duration) {
	c.mu.Lock()
	c.delay = d
	c.mu.Unlock()
}

// RefuseSender makes MAIL FROM answer code (e.g. 530, authentication
// required: a misconfigured sender); 0 accepts again.
func (c *Catcher) RefuseSender(code int) {
	c.mu.Lock()
	c.refuseFrom = code
	c.mu.Unlock()
}

// Close shuts the listener down for good.
func (c *Catcher) Close() error {
	c.mu.Lock()
	srv := c.srv
	c.srv = nil
	c.mu.Unlock()
	if srv == nil {
		return nil
	}
	return srv.Close()
}

// Messages returns a copy of the inbox, oldest first.
func (c *Catcher) Messages() []Message {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Message(nil), c.msgs...)
}

func (c *Catcher) add(m Message) {
	c.mu.Lock()
	m.ID = len(c.msgs) + 1
	c.msgs = append(c.msgs, m)
	c.mu.Unlock()
}

type session struct {
	c    *Catcher
	from string
	to   []string
}

func (s *session) Mail(from string, _ *smtp.MailOptions) error {
	s.c.mu.Lock()
	code := s.c.refuseFrom
	s.c.mu.Unlock()
	if code != 0 {
		return &smtp.SMTPError{Code: code, EnhancedCode: smtp.EnhancedCode{code / 100, 7, 0}, Message: "sender refused (by the test sink)"}
	}
	s.from = from
	return nil
}
func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.c.mu.Lock()
	code := s.c.refuse
	if s.c.refuseTo != nil && !s.c.refuseTo[strings.ToLower(to)] {
		code = 0
	}
	s.c.mu.Unlock()
	if code != 0 {
		return &smtp.SMTPError{Code: code, EnhancedCode: smtp.EnhancedCode{code / 100, 1, 1}, Message: "mailbox unavailable (refused by the test sink)"}
	}
	s.to = append(s.to, to)
	return nil
}
func (s *session) Reset()        { s.from, s.to = "", nil }
func (s *session) Logout() error { return nil }

func (s *session) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.c.mu.Lock()
	delay := s.c.delay
	s.c.mu.Unlock()
	time.Sleep(delay)
	m := Message{From: s.from, To: s.to, Received: time.Now(), Raw: string(raw)}
	parse(&m, raw)
	s.c.add(m)
	return nil
}

func parse(m *Message, raw []byte) {
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		m.Text = string(raw)
		return
	}
	dec := new(mime.WordDecoder)
	m.Subject, _ = dec.DecodeHeader(msg.Header.Get("Subject"))
	m.MessageID = strings.Trim(msg.Header.Get("Message-Id"), "<>")
	m.Key = msg.Header.Get("X-Leadrelay-Key")
	walk(m, msg.Header.Get("Content-Type"), msg.Header.Get("Content-Transfer-Encoding"), msg.Body)
}

func walk(m *Message, ctype, enc string, body io.Reader) {
	mt, params, err := mime.ParseMediaType(ctype)
	if err != nil {
		mt = "text/plain"
	}
	if strings.HasPrefix(mt, "multipart/") {
		mr := multipart.NewReader(body, params["boundary"])
		for {
			p, err := mr.NextRawPart()
			if err != nil {
				return
			}
			walk(m, p.Header.Get("Content-Type"), p.Header.Get("Content-Transfer-Encoding"), p)
		}
	}
	b, err := io.ReadAll(decode(enc, body))
	if err != nil && !errors.Is(err, io.EOF) {
		return
	}
	switch mt {
	case "text/html":
		m.HTML = string(b)
	case "text/plain":
		m.Text = string(b)
	}
}
