package activities_test

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/testsuite"

	"github.com/leadrelay/leadrelay/activities"
	"github.com/leadrelay/leadrelay/internal/domain"
	"github.com/leadrelay/leadrelay/internal/mail"
	"github.com/leadrelay/leadrelay/internal/mailcatcher"
	"github.com/leadrelay/leadrelay/internal/store"
	"github.com/leadrelay/leadrelay/internal/testenv"
)

var linkInEmail = regexp.MustCompile(`http://console\.test/app/signin/(lrl_[A-Za-z0-9_-]+)`)

// signInSetup is an owner with a fresh sign-in link, and the activity
// environment that emails it.
func signInSetup(t *testing.T) (*testsuite.TestActivityEnvironment, *mailcatcher.Catcher, *store.Store, string, string) {
	t.Helper()
	pool, _ := testenv.DB(t)
	sink, sender := testenv.MailSink(t)
	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestActivityEnvironment()
	s := store.New(pool)
	env.RegisterActivity(&activities.Activities{Store: s, Outbox: &mail.Outbox{Store: s, Sender: sender}, PublicBaseURL: "http://console.test"})
	email := fmt.Sprintf("link%d@signin.example", time.Now().UnixNano())
	_, _, _, err := s.CreateOrg(context.Background(), "Link Agency", "UTC", email, "Lin K")
	require.NoError(t, err)
	ask, err := s.AskSignInLink(context.Background(), email, 15*time.Minute, 5, 15*time.Minute)
	require.NoError(t, err)
	require.NotEmpty(t, ask.LinkID)
	return env, sink, s, ask.LinkID, email
}

// storedHash is the link's hash and the link's and its email's rows as text.
func storedHash(t *testing.T, linkID string) ([]byte, string) {
	t.Helper()
	pool, _ := testenv.DB(t)
	var hash []byte
	var rows string
	require.NoError(t, pool.QueryRow(context.Background(), `SELECT l.hash, row_to_json(l)::text || coalesce((SELECT row_to_json(d)::text FROM email_deliveries d WHERE d.key = $2), '')
		FROM signin_links l WHERE l.id = $1`, linkID, activities.SignInEmailKey(linkID)).Scan(&hash, &rows))
	return hash, rows
}

func tokenSentTo(t *testing.T, sink *mailcatcher.Catcher, email string) (tokens []string) {
	t.Helper()
	for _, m := range sink.Messages() {
		if m.To[0] == email {
			match := linkInEmail.FindStringSubmatch(m.Text)
			require.NotNil(t, match, "the email holds no link:\n%s", m.Text)
			require.Contains(t, m.Text, "15 minutes")
			require.Contains(t, m.Text, "ignore this email")
			tokens = append(tokens, match[1])
		}
	}
	return tokens
}

func TestSignInEmailMintsTheTokenAndKeepsOnlyItsHash(t *testing.T) {
	t.Parallel()
	env, sink, _, linkID, email := signInSetup(t)
	var a *activities.Activities
	_, err := env.ExecuteActivity(a.SendSignInEmail, linkID)
	require.NoError(t, err)
	tokens := tokenSentTo(t, sink, email)
	require.Len(t, tokens, 1)
	hash, rows := storedHash(t, linkID)
	require.Equal(t, domain.HashToken(tokens[0]), hash, "the link keeps the hash of the token emailed")
	require.NotContains(t, rows, tokens[0], "the token is stored in plain")

	// Again, as a retry after the send was recorded: nothing is sent, the
	// emailed link keeps working.
	_, err = env.ExecuteActivity(a.SendSignInEmail, linkID)
	require.NoError(t, err)
	require.Len(t, tokenSentTo(t, sink, email), 1)
	again, _ := storedHash(t, linkID)
	require.Equal(t, hash, again, "a retry after the send replaced the emailed link's hash")
}

func TestSignInEmailAfterAFailedSendMintsANewToken(t *testing.T) {
	t.Parallel()
	env, sink, _, linkID, email := signInSetup(t)
	var a *activities.Activities
	require.NoError(t, sink.Stop())
	_, err := env.ExecuteActivity(a.SendSignInEmail, linkID)
	require.Error(t, err, "an outage fails the attempt so Temporal retries it")
	require.NotContains(t, err.Error(), email, "the error Temporal records names the address")
	first, _ := storedHash(t, linkID)
	require.NotNil(t, first)

	require.NoError(t, sink.Resume())
	_, err = env.ExecuteActivity(a.SendSignInEmail, linkID)
	require.NoError(t, err)
	tokens := tokenSentTo(t, sink, email)
	require.Len(t, tokens, 1)
	hash, _ := storedHash(t, linkID)
	require.Equal(t, domain.HashToken(tokens[0]), hash)
	require.NotEqual(t, first, hash, "the failed attempt's token must not stay valid")
}

func TestSignInEmailOfAUsedOrExpiredLinkSendsNothing(t *testing.T) {
	t.Parallel()
	for _, sql := range []string{`UPDATE signin_links SET used_at = now() WHERE id = $1`,
		`UPDATE signin_links SET expires_at = now() - interval '1 second' WHERE id = $1`} {
		env, sink, _, linkID, email := signInSetup(t)
		pool, _ := testenv.DB(t)
		_, err := pool.Exec(context.Background(), sql, linkID)
		require.NoError(t, err)
		var a *activities.Activities
		_, err = env.ExecuteActivity(a.SendSignInEmail, linkID)
		require.NoError(t, err)
		require.Empty(t, tokenSentTo(t, sink, email), "%s: an email went out", strings.Fields(sql)[3])
		hash, _ := storedHash(t, linkID)
		require.Nil(t, hash)
	}
}
