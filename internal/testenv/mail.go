package testenv

import (
	"testing"

	"github.com/leadrelay/leadrelay/internal/mail"
	"github.com/leadrelay/leadrelay/internal/mailcatcher"
)

// MailDomain is the right-hand side of Message-IDs sent by MailSink's sender.
const MailDomain = "leadrelay.test"

// MailSink starts an SMTP sink on a free loopback port for this test and a
// sender pointed at it.
func MailSink(t testing.TB) (*mailcatcher.Catcher, *mail.Sender) {
	t.Helper()
	sink, err := mailcatcher.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sink.Close() })
	sender, err := mail.NewSender(sink.URL(), "leadrelay <noreply@"+MailDomain+">")
	if err != nil {
		t.Fatal(err)
	}
	return sink, sender
}
