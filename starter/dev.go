package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/leadrelay/leadrelay/internal/app"
	"github.com/leadrelay/leadrelay/internal/config"
	"github.com/leadrelay/leadrelay/internal/devstack"
	"github.com/leadrelay/leadrelay/internal/domain"
	"github.com/leadrelay/leadrelay/internal/logging"
	"github.com/leadrelay/leadrelay/internal/mailcatcher"
	"github.com/leadrelay/leadrelay/internal/store"
	"github.com/leadrelay/leadrelay/workflows"
)

// devSecrets survive restarts in .data/, so a second start can print the same
// working tokens (the database keeps only their hashes).
type devSecrets struct {
	AdminToken string `json:"admin_token"`
	// WebhookSecretKey seals the demo's webhook secrets; kept so a restart
	// still opens what an earlier one sealed.
	WebhookSecretKey string   `json:"webhook_secret_key,omitempty"`
	MasterOrgID      string   `json:"master_org_id,omitempty"`
	OwnerToken       string   `json:"owner_token,omitempty"`
	VendorKey        string   `json:"vendor_key,omitempty"`
	SubOrgIDs        []string `json:"sub_org_ids,omitempty"`
	// an org left unlinked, to try the invitation flow by hand
	WestOrgID string `json:"west_org_id,omitempty"`
	WestEmail string `json:"west_email,omitempty"`
}

func runDev(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("dev", flag.ContinueOnError)
	temporalKind := fs.String("temporal", "dev", "the Temporal to start when TEMPORAL_ADDRESS is unset: dev (the CLI's dev server with its Web UI) "+
		"or postgres (the production-shaped server on the private PostgreSQL, no Web UI)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *temporalKind != "dev" && *temporalKind != "postgres" {
		return fmt.Errorf("--temporal=%q: want dev or postgres", *temporalKind)
	}
	root, err := devstack.Root()
	if err != nil {
		return fmt.Errorf("run it from the repository: %w", err)
	}
	if os.Getenv("LOG_FORMAT") == "" {
		if err := os.Setenv("LOG_FORMAT", "console"); err != nil {
			return err
		}
	}
	log := logging.New("dev")
	defer log.Sync()
	data := filepath.Join(root, ".data")
	if err := os.MkdirAll(data, 0o755); err != nil {
		return err
	}
	secretsPath := filepath.Join(data, "dev-secrets.json")
	var sec devSecrets
	if b, err := os.ReadFile(secretsPath); err == nil {
		_ = json.Unmarshal(b, &sec)
	}
	if os.Getenv("ADMIN_TOKEN") == "" {
		if sec.AdminToken == "" {
			sec.AdminToken = randomToken("lra_")
		}
		if err := os.Setenv("ADMIN_TOKEN", sec.AdminToken); err != nil {
			return err
		}
	}
	if os.Getenv("WEBHOOK_SECRET_KEY") == "" {
		if sec.WebhookSecretKey == "" {
			b := make([]byte, 32)
			_, _ = rand.Read(b)
			sec.WebhookSecretKey = base64.StdEncoding.EncodeToString(b)
		}
		if err := os.Setenv("WEBHOOK_SECRET_KEY", sec.WebhookSecretKey); err != nil {
			return err
		}
	}
	cfg, err := config.Load(nil)
	if err != nil {
		return err
	}
	var procs []*devstack.Proc
	defer func() {
		for i := len(procs) - 1; i >= 0; i-- {
			log.Info("stopping " + procs[i].Name)
			procs[i].Stop(15 * time.Second)
		}
	}()

	// 1. PostgreSQL
	if cfg.DatabaseURL == "" {
		url, p, err := devstack.StartPostgres(ctx, filepath.Join(data, "pg"), filepath.Join(data, "postgres.log"))
		if err != nil {
			return err
		}
		procs = append(procs, p)
		cfg.DatabaseURL = url
		log.Info("private PostgreSQL started", zap.String("url", url))
	}

	// 2. Temporal: the dev server with its Web UI, or the production-shaped one
	uiURL := "(your server's UI)"
	if os.Getenv("TEMPORAL_ADDRESS") == "" && *temporalKind == "postgres" {
		ts, err := startServerOnPostgres(ctx, root, data, cfg.DatabaseURL, log)
		if err != nil {
			return err
		}
		defer logIfFails(log, "stop the Temporal server", ts.Stop)
		cfg.TemporalAddress = ts.FrontendHostPort()
		uiURL = "(none: the production-shaped server has no Web UI; use `temporal --address " + cfg.TemporalAddress + "`)"
	} else if os.Getenv("TEMPORAL_ADDRESS") == "" {
		bin, err := devstack.TemporalBinary(ctx, root, func(s string) { log.Info(s) })
		if err != nil {
			return err
		}
		port, uiPort := 7233, 8233
		if !devstack.PortFree("127.0.0.1:7233") || !devstack.PortFree("127.0.0.1:8233") {
			if port, err = devstack.FreePort(0); err != nil {
				return err
			}
			if uiPort, err = devstack.FreePort(0); err != nil {
				return err
			}
			log.Warn("ports 7233/8233 are taken (another Temporal?): using free ones", zap.Int("port", port), zap.Int("ui_port", uiPort))
		}
		p, err := devstack.StartTemporal(bin, filepath.Join(data, "temporal.db"), filepath.Join(data, "temporal.log"), port, uiPort,
			workflows.SearchAttributeNames())
		if err != nil {
			return err
		}
		procs = append(procs, p)
		cfg.TemporalAddress = "127.0.0.1:" + strconv.Itoa(port)
		uiURL = fmt.Sprintf("http://127.0.0.1:%d/namespaces/%s/workflows", uiPort, cfg.TemporalNamespace)
	}

	// 3. Mail catcher
	inboxURL := "(your SMTP server)"
	var wg sync.WaitGroup
	if cfg.SMTPURL == "" {
		addr := "127.0.0.1:1025"
		if !devstack.PortFree(addr) {
			addr = "127.0.0.1:0"
		}
		mc, err := mailcatcher.Start(addr)
		if err != nil {
			return err
		}
		defer logIfFails(log, "close the mail catcher", mc.Close)
		cfg.SMTPURL = mc.URL()
		webAddr := "127.0.0.1:8025"
		if !devstack.PortFree(webAddr) {
			webAddr = "127.0.0.1:0"
		}
		ln, err := net.Listen("tcp", webAddr)
		if err != nil {
			return err
		}
		inboxURL = "http://" + ln.Addr().String()
		srv := &http.Server{Handler: mc.Handler(), ReadHeaderTimeout: 10 * time.Second}
		go func() {
			if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
				log.Warn("the inbox page stopped", zap.Error(err))
			}
		}()
		defer logIfFails(log, "close the inbox page", srv.Close)
	}

	// 4. API listener first, so a taken port fails before anything else runs.
	ln, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("HTTP_ADDR %s is taken (set HTTP_ADDR to another address): %w", cfg.HTTPAddr, err)
	}
	// The worker's metrics: the default port may be another stack's.
	if os.Getenv("METRICS_ADDR") == "" && !devstack.PortFree(cfg.MetricsAddr) {
		port, err := devstack.FreePort(0)
		if err != nil {
			_ = ln.Close()
			return err
		}
		log.Warn("METRICS_ADDR "+cfg.MetricsAddr+" is taken: using a free port", zap.Int("port", port))
		cfg.MetricsAddr = "127.0.0.1:" + strconv.Itoa(port)
	}
	d, err := app.Open(ctx, cfg, log)
	if err != nil {
		_ = ln.Close()
		return err
	}
	defer d.Close()
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, 2)
	wg.Add(2)
	go func() { defer wg.Done(); errc <- app.RunWorker(runCtx, d) }()
	go func() { defer wg.Done(); errc <- app.ServeAPI(runCtx, d, ln) }()
	defer wg.Wait()
	defer cancel()

	if err := seedDemo(ctx, d.Store, &sec); err != nil {
		return fmt.Errorf("seed demo: %w", err)
	}
	b, _ := json.MarshalIndent(sec, "", "  ")
	if err := os.WriteFile(secretsPath, b, 0o600); err != nil {
		return err
	}
	envFile := filepath.Join(data, "dev.env")
	env := fmt.Sprintf("DATABASE_URL=%s\nTEMPORAL_ADDRESS=%s\nHTTP_ADDR=%s\nSMTP_URL=%s\nADMIN_TOKEN=%s\nWEBHOOK_SECRET_KEY=%s\n",
		cfg.DatabaseURL, cfg.TemporalAddress, cfg.HTTPAddr, cfg.SMTPURL, cfg.AdminToken, os.Getenv("WEBHOOK_SECRET_KEY"))
	if err := os.WriteFile(envFile, []byte(env), 0o600); err != nil {
		return err
	}
	_ = os.WriteFile(filepath.Join(data, "dev.pid"), []byte(strconv.Itoa(os.Getpid())), 0o644)
	links, err := devSignInLinks(ctx, d.Store, cfg)
	if err != nil {
		return fmt.Errorf("sign-in links: %w", err)
	}
	printBanner(cfg, uiURL, inboxURL, &sec, consoleSection(cfg, links))

	select {
	case <-ctx.Done():
		fmt.Println("\nstopping leadrelay dev stack…")
		return nil
	case err := <-errc:
		if err == nil || errors.Is(err, context.Canceled) {
			return nil
		}
		return err
	}
}

// startServerOnPostgres runs the production-shaped Temporal server (the real
// server binary, persistence and visibility on fresh databases of the
// PostgreSQL that dbURL names, the stock SQL dynamic config), as `starter
// bench` is measured against. Its databases are dropped when it stops.
func startServerOnPostgres(ctx context.Context, root, data, dbURL string, log *zap.Logger) (*devstack.TemporalServer, error) {
	u, err := url.Parse(dbURL)
	if err != nil {
		return nil, fmt.Errorf("DATABASE_URL: %w", err)
	}
	u.Path = "/postgres"
	ts, err := devstack.StartPinnedTemporalServer(ctx, root, func(s string) { log.Info(s) },
		devstack.TemporalServerOptions{PostgresURL: u.String(), Dir: filepath.Join(data, "temporal-server")})
	if err != nil {
		return nil, err
	}
	log.Info("production-shaped Temporal server started", zap.String("address", ts.FrontendHostPort()),
		zap.Strings("databases", ts.Databases()))
	return ts, nil
}

// logIfFails runs a step of runDev's shutdown and logs its error: by then
// runDev's result is settled, but what was left behind (a database, a bound
// port) is worth a line.
func logIfFails(log *zap.Logger, what string, step func() error) {
	if err := step(); err != nil {
		log.Warn("could not "+what, zap.Error(err))
	}
}

func randomToken(prefix string) string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return prefix + base64.RawURLEncoding.EncodeToString(b)
}

// seedDemo creates, once, a master agency with staff and a source, two
// linked sub-agencies, and one unlinked agency to invite by hand. A second
// start finds them and changes nothing.
func seedDemo(ctx context.Context, s *store.Store, sec *devSecrets) error {
	if sec.MasterOrgID != "" {
		if _, err := s.GetOrg(ctx, sec.MasterOrgID); err == nil {
			return seedWest(ctx, s, sec)
		}
	}
	master, _, ownerTok, err := s.CreateOrg(ctx, "Summit Insurance Group", "America/Chicago", "olivia.owner@summit.example", "Olivia Owner")
	if err != nil {
		return err
	}
	for _, u := range []struct {
		email, name string
		role        domain.Role
	}{
		{"sam.staff@summit.example", "Sam Staff", domain.RoleStaff},
		{"pat.pro@summit.example", "Pat Professional", domain.RoleProfessional},
		{"morgan.manager@summit.example", "Morgan Manager", domain.RoleManager},
		{"alex.admin@summit.example", "Alex Admin", domain.RoleAdmin},
	} {
		if _, _, err := s.CreateUser(ctx, master.ID, u.email, u.name, u.role, true); err != nil {
			return err
		}
	}
	var subs []string
	for _, n := range []string{"North", "South"} {
		sub, _, _, err := s.CreateOrg(ctx, "Summit "+n+" Agency", "America/Chicago",
			"owner@summit-"+strings.ToLower(n)+".example", "Owner "+n)
		if err != nil {
			return err
		}
		if err := s.LinkOrgs(ctx, master.ID, sub.ID); err != nil {
			return err
		}
		subs = append(subs, sub.ID)
	}
	cfg := domain.SourceConfig{Name: "EverQuote", Routing: domain.Routing{Mode: domain.RouteStaffEvenly},
		Priority: "high", PurchaseNotificationEmails: []string{"olivia.owner@summit.example"}}
	delay, err := cfg.Validate()
	if err != nil {
		return err
	}
	_, _, key, err := s.PutSource(ctx, master.ID, "everquote", cfg, delay)
	if err != nil {
		return err
	}
	*sec = devSecrets{AdminToken: sec.AdminToken, WebhookSecretKey: sec.WebhookSecretKey, MasterOrgID: master.ID, OwnerToken: ownerTok, VendorKey: key, SubOrgIDs: subs}
	return seedWest(ctx, s, sec)
}

func seedWest(ctx context.Context, s *store.Store, sec *devSecrets) error {
	if sec.WestOrgID != "" {
		if _, err := s.GetOrg(ctx, sec.WestOrgID); err == nil {
			return nil
		}
	}
	west, owner, _, err := s.CreateOrg(ctx, "Summit West Agency", "America/Denver", "wes.owner@summit-west.example", "Wes Owner")
	if err != nil {
		return err
	}
	sec.WestOrgID, sec.WestEmail = west.ID, owner.Email
	return nil
}

// devPeople are the demo's people `starter dev` prints a console sign-in
// link for: one of each kind of work.
var devPeople = []struct{ who, email string }{
	{"owner", "olivia.owner@summit.example"},
	{"manager", "morgan.manager@summit.example"},
	{"rep", "sam.staff@summit.example"},
}

// devSignInLinkTTL is how long the printed links work. Longer than an
// emailed link's 15 minutes, so a link is still good when the person gets to
// it; each start prints new ones, and each works once.
const devSignInLinkTTL = 12 * time.Hour

// devSignInLinks mints a sign-in link for each of devPeople, as the email's
// activity would, and returns them in that order. The database keeps only
// their hashes; the links live in the terminal.
func devSignInLinks(ctx context.Context, s *store.Store, cfg *config.Config) ([]string, error) {
	base := consoleBase(cfg)
	var out []string
	for _, p := range devPeople {
		token, hash := domain.NewToken("lrl_")
		if err := s.CreateSignInLink(ctx, p.email, hash, devSignInLinkTTL); err != nil {
			return nil, err
		}
		out = append(out, base+"/app/signin/"+token)
	}
	return out, nil
}

// consoleBase is where the console is reached: PUBLIC_BASE_URL, which is
// the dev API's own address unless set.
func consoleBase(cfg *config.Config) string { return cfg.PublicBaseURL }

// consoleSection is the banner's part on the console: its address and a
// sign-in link for each of devPeople.
func consoleSection(cfg *config.Config, links []string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "The console: %s/app/ (ask for a link there: the email lands in the inbox),\n", consoleBase(cfg))
	fmt.Fprintf(&b, "or open one of these ready sign-in links (each works once, for %s):\n", devSignInLinkTTL)
	for i, p := range devPeople {
		fmt.Fprintf(&b, "  %-8s %-30s %s\n", p.who, p.email, links[i])
	}
	return b.String()
}

func printBanner(cfg *config.Config, uiURL, inboxURL string, sec *devSecrets, console string) {
	api := "http://" + cfg.HTTPAddr
	ext := fmt.Sprintf("demo-%d", time.Now().Unix())
	metrics := api + "/metrics"
	if cfg.MetricsAddr != "" {
		// One process, one registry: both pages show the same.
		metrics += "   (and http://" + cfg.MetricsAddr + "/metrics)"
	}
	fmt.Printf(`
================ leadrelay dev stack is up ================
  API            %s   (GET /readyz)
  Temporal UI    %s
  Mail inbox     %s
  Metrics        %s
  PostgreSQL     %s
  Admin token    %s
  Environment    .data/dev.env   (set -a; . .data/dev.env; set +a)

Demo: "Summit Insurance Group" (org %s), source "everquote" rotating
over three staff, with sub-agencies North and South.
  owner token    %s
  vendor key     %s

Post a lead (run it twice: the second answer says duplicate:true):
  curl -sS -X POST %s/v1/leads \
    -H 'Authorization: Bearer %s' -H 'Content-Type: application/json' \
    -d '{"external_id":"%s","first_name":"Ada","last_name":"Lovelace","email":"ada@example.com","phone":"+1 312 555 0100"}'

Then see it routed, with its timeline (put the lead_id from the answer):
  curl -sS %s/v1/leads/LEAD_ID -H 'Authorization: Bearer %s'

Invite "Summit West Agency" to become a sub-agency, then open the email in
the inbox, follow its link and Accept:
  curl -sS -X POST %s/v1/orgs/%s/invitations \
    -H 'Authorization: Bearer %s' -d '{"email":"%s"}'
  curl -sS %s/v1/orgs/%s/sub-agencies -H 'Authorization: Bearer %s'

%s
Ctrl-C stops everything.
============================================================
`, api, uiURL, inboxURL, metrics, cfg.DatabaseURL, cfg.AdminToken, sec.MasterOrgID, sec.OwnerToken, sec.VendorKey,
		api, sec.VendorKey, ext, api, sec.OwnerToken,
		api, sec.MasterOrgID, sec.OwnerToken, sec.WestEmail, api, sec.MasterOrgID, sec.OwnerToken, console)
}
