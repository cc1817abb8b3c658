package leadrelay_test

// TestCompose checks the Docker packaging structurally: docker-compose.yml,
// the Dockerfile and .dockerignore, against SPEC §3 and what leadrelay's code
// needs. No Docker engine runs where leadrelay is developed, so the stack is
// never started here; this test is what keeps the file honest. It also builds
// and runs the Dockerfile's health-check probe against a local HTTP server.

import (
	"fmt"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/leadrelay/leadrelay/workflows"
)

// Service names, as README "Docker" names them.
const (
	svcPostgres  = "postgres"
	svcSchema    = "temporal-admin-tools"
	svcTemporal  = "temporal"
	svcNamespace = "temporal-create-namespace"
	svcUI        = "temporal-ui"
	svcMailpit   = "mailpit"
	svcWorker    = "worker"
	svcAPI       = "api"
)

// What the stack pins (README "Dependencies": server 1.29.1, UI 2.42.1).
var wantImages = map[string]string{
	svcPostgres:  `^postgres:16\.\d+$`,
	svcSchema:    `^temporalio/admin-tools:1\.29\.1(-[0-9A-Za-z.-]+)?$`,
	svcTemporal:  `^temporalio/server:1\.29\.1$`,
	svcNamespace: `^temporalio/admin-tools:1\.29\.1(-[0-9A-Za-z.-]+)?$`,
	svcUI:        `^temporalio/ui:2\.42\.1$`,
	svcMailpit:   `^axllent/mailpit:v\d+\.\d+\.\d+$`,
}

// The only published ports: host side on 127.0.0.1.
var wantPorts = map[string]string{
	svcAPI:     "127.0.0.1:8080:8080",
	svcUI:      "127.0.0.1:8233:8080",
	svcMailpit: "127.0.0.1:8025:8025",
}

// depends_on, exactly: one-shot jobs must complete, servers must be healthy.
var wantDeps = map[string]map[string]string{
	svcPostgres:  {},
	svcSchema:    {svcPostgres: "service_healthy"},
	svcTemporal:  {svcPostgres: "service_healthy", svcSchema: "service_completed_successfully"},
	svcNamespace: {svcTemporal: "service_healthy"},
	svcUI:        {svcTemporal: "service_healthy"},
	svcMailpit:   {},
	svcWorker: {svcPostgres: "service_healthy", svcTemporal: "service_healthy",
		svcNamespace: "service_completed_successfully", svcMailpit: "service_healthy"},
	svcAPI: {svcPostgres: "service_healthy", svcTemporal: "service_healthy",
		svcNamespace: "service_completed_successfully"},
}

// What each long-running service's health check must run.
var wantHealth = map[string]string{
	svcPostgres: "pg_isready",
	svcTemporal: "temporal operator cluster health",
	svcUI:       "/healthz",
	svcMailpit:  "/mailpit readyz",
	svcAPI:      "/app/healthcheck http://127.0.0.1:8080/readyz",
}

// SPEC §3 settings each leadrelay process gets. ADMIN_TOKEN is the API's
// alone: the worker never reads it, so it is not handed the secret.
var (
	sharedEnv = []string{"DATABASE_URL", "TEMPORAL_ADDRESS", "TEMPORAL_NAMESPACE", "TEMPORAL_TASK_QUEUE",
		"SMTP_URL", "MAIL_FROM", "PUBLIC_BASE_URL", "NEW_LEAD_DIGEST_AT", "VENDOR_RATE_LIMIT"}
	wantEnv = map[string][]string{
		svcWorker: append(slices.Clone(sharedEnv), "METRICS_ADDR"),
		svcAPI:    append(slices.Clone(sharedEnv), "HTTP_ADDR", "ADMIN_TOKEN"),
	}
)

type composeFile struct {
	Name     string
	Services map[string]composeService
	Volumes  map[string]any
}

type composeService struct {
	Image       string
	Build       any
	Entrypoint  strList
	Command     strList
	Environment map[string]scalar
	Ports       []string
	Expose      []string
	DependsOn   map[string]struct{ Condition string } `yaml:"depends_on"`
	Healthcheck *struct {
		Test    strList
		Disable bool
	}
	Restart string
}

// strList is compose's "string or list of strings".
type strList []string

func (l *strList) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		*l = strList{n.Value}
		return nil
	}
	var s []string
	if err := n.Decode(&s); err != nil {
		return err
	}
	*l = s
	return nil
}

// scalar is an environment value: string, number or boolean, kept as written.
type scalar string

func (s *scalar) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: environment value is not a scalar", n.Line)
	}
	*s = scalar(n.Value)
	return nil
}

func loadCompose(t *testing.T) composeFile {
	t.Helper()
	b, err := os.ReadFile("docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	var f composeFile
	if err := yaml.Unmarshal(b, &f); err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	return f
}

// interpolate resolves compose's ${VAR:-default} and ${VAR-default} to the
// default, ${VAR:?message} to "<VAR>", and $$ to $.
func interpolate(t *testing.T, s string) string {
	t.Helper()
	re := regexp.MustCompile(`\$\$|\$\{([A-Z_][A-Z0-9_]*)(?::?([-?])([^}]*))?\}`)
	return re.ReplaceAllStringFunc(s, func(m string) string {
		if m == "$$" {
			return "$"
		}
		p := re.FindStringSubmatch(m)
		switch p[2] {
		case "-":
			return p[3]
		case "?":
			return "<" + p[1] + ">"
		}
		t.Errorf("%s has no default: the stack must start from this file alone", m)
		return ""
	})
}

func (s composeService) script() string {
	return strings.Join(append(slices.Clone(s.Entrypoint), s.Command...), " ")
}

func (s composeService) oneShot() bool { return s.Restart == "no" }

func TestCompose(t *testing.T) {
	f := loadCompose(t)

	t.Run("services", func(t *testing.T) {
		var got []string
		for name := range f.Services {
			got = append(got, name)
		}
		want := []string{svcPostgres, svcSchema, svcTemporal, svcNamespace, svcUI, svcMailpit, svcWorker, svcAPI}
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("services = %v, want %v", got, want)
		}
	})

	t.Run("readme names every service", func(t *testing.T) {
		b, err := os.ReadFile("README.md")
		if err != nil {
			t.Fatal(err)
		}
		sec := string(b)
		i := strings.Index(sec, "\n## Docker\n")
		if i < 0 {
			t.Fatal(`README.md has no "## Docker" section`)
		}
		sec = sec[i+1:]
		if j := strings.Index(sec[3:], "\n## "); j >= 0 {
			sec = sec[:j+3]
		}
		row := regexp.MustCompile("(?m)^\\| `([a-z0-9-]+)` \\| ([^|]*) \\|")
		var named []string
		for _, m := range row.FindAllStringSubmatch(sec, -1) {
			named = append(named, m[1])
			if s, ok := f.Services[m[1]]; ok && s.Image != "" && m[2] != "`"+s.Image+"`" {
				t.Errorf("README's Docker table gives %s the image %s, docker-compose.yml %q", m[1], m[2], s.Image)
			}
		}
		for _, n := range named {
			if _, ok := f.Services[n]; !ok {
				t.Errorf("README's Docker section names service %q, which docker-compose.yml lacks", n)
			}
		}
		for n := range f.Services {
			if !slices.Contains(named, n) {
				t.Errorf("service %q is not in the README's Docker table", n)
			}
		}
		if !strings.Contains(sec, "docker compose up --build") || !strings.Contains(sec, "TestCompose") {
			t.Error("README's Docker section should give the command and name TestCompose")
		}
	})

	t.Run("images pinned", func(t *testing.T) {
		for name, s := range f.Services {
			if s.Build != nil {
				if s.Image != "" {
					t.Errorf("%s: both build and image %q (compose would try to pull it)", name, s.Image)
				}
				continue
			}
			want, ok := wantImages[name]
			if !ok {
				t.Errorf("%s: image %q has no expectation in this test", name, s.Image)
				continue
			}
			if !regexp.MustCompile(want).MatchString(s.Image) {
				t.Errorf("%s: image %q, want an exact version matching %s", name, s.Image, want)
			}
			if strings.Contains(s.Image, "latest") || strings.Contains(s.Image, "$") ||
				strings.Contains(s.Image, "auto-setup") {
				t.Errorf("%s: image %q is not pinned, or is the deprecated auto-setup", name, s.Image)
			}
		}
		for _, name := range []string{svcWorker, svcAPI} {
			if f.Services[name].Build == nil {
				t.Errorf("%s: want it built from the Dockerfile", name)
			}
		}
	})

	t.Run("published ports", func(t *testing.T) {
		for name, s := range f.Services {
			want, publishes := wantPorts[name]
			switch {
			case !publishes && len(s.Ports) > 0:
				t.Errorf("%s publishes %v; only %v may publish", name, s.Ports, slices.Sorted(maps.Keys(wantPorts)))
			case publishes && !slices.Equal(s.Ports, []string{want}):
				t.Errorf("%s: ports %q, want [%q]", name, s.Ports, want)
			}
			for _, p := range s.Ports {
				if !strings.HasPrefix(p, "127.0.0.1:") {
					t.Errorf("%s: port %q is not bound to 127.0.0.1", name, p)
				}
			}
		}
	})

	t.Run("depends_on", func(t *testing.T) {
		for name, s := range f.Services {
			got := map[string]string{}
			for dep, d := range s.DependsOn {
				got[dep] = d.Condition
				ds, ok := f.Services[dep]
				switch {
				case !ok:
					t.Errorf("%s depends on %q, which does not exist", name, dep)
				case ds.oneShot() && d.Condition != "service_completed_successfully":
					t.Errorf("%s -> %s: one-shot job, want service_completed_successfully, got %q", name, dep, d.Condition)
				case !ds.oneShot() && d.Condition != "service_healthy":
					t.Errorf("%s -> %s: want service_healthy, got %q", name, dep, d.Condition)
				case d.Condition == "service_healthy" && ds.Healthcheck == nil:
					t.Errorf("%s waits for %s to be healthy, which has no health check", name, dep)
				}
			}
			if want := wantDeps[name]; fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("%s: depends_on %v, want %v", name, got, want)
			}
		}
	})

	t.Run("health checks", func(t *testing.T) {
		for name, s := range f.Services {
			want, ok := wantHealth[name]
			switch {
			case s.oneShot():
				if s.Healthcheck != nil {
					t.Errorf("%s is a one-shot job; a health check would never pass", name)
				}
				continue
			case name == svcWorker:
				// The worker serves nothing over HTTP that says it is working
				// (its METRICS_ADDR endpoint is not a readiness signal), and
				// nothing waits on it; restart: unless-stopped covers a crash.
				if s.Restart != "unless-stopped" {
					t.Errorf("worker: restart %q, want unless-stopped", s.Restart)
				}
				continue
			case !ok:
				t.Errorf("%s: long-running service without an expected health check in this test", name)
				continue
			case s.Healthcheck == nil || s.Healthcheck.Disable || len(s.Healthcheck.Test) < 2:
				t.Errorf("%s: no health check", name)
				continue
			}
			test := strings.Join(s.Healthcheck.Test[1:], " ")
			if kind := s.Healthcheck.Test[0]; kind != "CMD" && kind != "CMD-SHELL" {
				t.Errorf("%s: health check %q, want CMD or CMD-SHELL", name, s.Healthcheck.Test)
			}
			if !strings.Contains(test, want) {
				t.Errorf("%s: health check %q does not run %q", name, test, want)
			}
			if s.Restart != "unless-stopped" {
				t.Errorf("%s: restart %q, want unless-stopped", name, s.Restart)
			}
		}
	})

	t.Run("leadrelay environment", func(t *testing.T) {
		pg := f.Services[svcPostgres].Environment
		for name, want := range wantEnv {
			s := f.Services[name]
			env := map[string]string{}
			for k, v := range s.Environment {
				env[k] = interpolate(t, string(v))
			}
			for _, k := range want {
				if env[k] == "" {
					t.Errorf("%s: %s not set (SPEC §3)", name, k)
				}
			}
			if name != svcAPI && env["ADMIN_TOKEN"] != "" {
				t.Errorf("%s gets ADMIN_TOKEN, which only the API uses", name)
			}
			// The API seals webhook secrets and the worker opens them: both
			// take the one key from the user's shell (empty: webhooks off).
			if v, ok := s.Environment["WEBHOOK_SECRET_KEY"]; !ok || string(v) != "${WEBHOOK_SECRET_KEY:-}" {
				t.Errorf("%s: WEBHOOK_SECRET_KEY %q, want ${WEBHOOK_SECRET_KEY:-}", name, v)
			}

			db, err := url.Parse(env["DATABASE_URL"])
			if err != nil {
				t.Errorf("%s: DATABASE_URL: %v", name, err)
			} else {
				pw, _ := db.User.Password()
				if db.Scheme != "postgres" || db.Hostname() != svcPostgres || db.Port() != "5432" ||
					db.User.Username() != string(pg["POSTGRES_USER"]) || pw != string(pg["POSTGRES_PASSWORD"]) ||
					db.Path != "/"+string(pg["POSTGRES_DB"]) {
					t.Errorf("%s: DATABASE_URL %q does not match the %s service's user, password and database", name, env["DATABASE_URL"], svcPostgres)
				}
			}
			if h, p, err := net.SplitHostPort(env["TEMPORAL_ADDRESS"]); err != nil || h != svcTemporal || p != "7233" {
				t.Errorf("%s: TEMPORAL_ADDRESS %q, want %s:7233", name, env["TEMPORAL_ADDRESS"], svcTemporal)
			}
			if env["TEMPORAL_NAMESPACE"] != "default" {
				t.Errorf("%s: TEMPORAL_NAMESPACE %q, want default (the namespace %s creates)", name, env["TEMPORAL_NAMESPACE"], svcNamespace)
			}
			if u, err := url.Parse(env["SMTP_URL"]); err != nil || u.Scheme != "smtp" || u.Hostname() != svcMailpit || u.Port() != "1025" {
				t.Errorf("%s: SMTP_URL %q, want smtp://%s:1025 by default", name, env["SMTP_URL"], svcMailpit)
			}
			if env["PUBLIC_BASE_URL"] != "http://"+strings.TrimSuffix(wantPorts[svcAPI], ":8080") {
				t.Errorf("%s: PUBLIC_BASE_URL %q, want the API's published address", name, env["PUBLIC_BASE_URL"])
			}
		}
		api := f.Services[svcAPI].Environment
		if api["HTTP_ADDR"] != "0.0.0.0:8080" {
			t.Errorf("api: HTTP_ADDR %q, want 0.0.0.0:8080 inside the container", api["HTTP_ADDR"])
		}
		if !regexp.MustCompile(`^\$\{ADMIN_TOKEN:\?[^}]*ADMIN_TOKEN[^}]+\}$`).MatchString(string(api["ADMIN_TOKEN"])) {
			t.Errorf("api: ADMIN_TOKEN %q, want ${ADMIN_TOKEN:?<a message naming it>} so compose stops without it", api["ADMIN_TOKEN"])
		}
		if h, _, err := net.SplitHostPort(string(f.Services[svcWorker].Environment["METRICS_ADDR"])); err != nil || h != "0.0.0.0" {
			t.Errorf("worker: METRICS_ADDR %q, want 0.0.0.0:<port> (reachable on the compose network)", f.Services[svcWorker].Environment["METRICS_ADDR"])
		}
		w := f.Services[svcWorker]
		if !slices.Equal(w.Entrypoint, []string{"/app/worker"}) {
			t.Errorf("worker: entrypoint %q, want [/app/worker]", w.Entrypoint)
		}
		if a := f.Services[svcAPI]; !slices.Equal(a.Command, []string{"serve"}) {
			t.Errorf("api: command %q, want [serve]", a.Command)
		}
	})

	t.Run("temporal on postgres", func(t *testing.T) {
		for _, name := range []string{svcSchema, svcTemporal} {
			env := f.Services[name].Environment
			if env["DB"] != "postgres12" || env["POSTGRES_SEEDS"] != svcPostgres ||
				env["POSTGRES_USER"] != f.Services[svcPostgres].Environment["POSTGRES_USER"] ||
				env["POSTGRES_PWD"] != f.Services[svcPostgres].Environment["POSTGRES_PASSWORD"] {
				t.Errorf("%s: persistence settings %v do not point at the %s service", name, env, svcPostgres)
			}
		}
		script := interpolate(t, f.Services[svcSchema].script())
		for _, want := range []string{
			"temporal-sql-tool --plugin postgres12 --ep postgres",
			"create", "setup-schema -v 0.0",
			"--db temporal update-schema -d /etc/temporal/schema/postgresql/v12/temporal/versioned",
			"--db temporal_visibility update-schema -d /etc/temporal/schema/postgresql/v12/visibility/versioned",
		} {
			if !strings.Contains(script, want) {
				t.Errorf("%s does not run %q", svcSchema, want)
			}
		}
	})

	t.Run("namespace and search attributes", func(t *testing.T) {
		script := interpolate(t, f.Services[svcNamespace].script())
		if !regexp.MustCompile(`temporal operator namespace create [^\n]*-n default`).MatchString(script) {
			t.Errorf("%s does not create the default namespace", svcNamespace)
		}
		if !strings.Contains(script, "temporal operator search-attribute create") {
			t.Fatalf("%s creates no search attributes", svcNamespace)
		}
		created := map[string]string{}
		for _, m := range regexp.MustCompile(`--name (\w+) --type (\w+)`).FindAllStringSubmatch(script, -1) {
			created[m[1]] = m[2]
		}
		types := map[string]string{}
		for _, k := range workflows.SearchAttributes {
			types[k.GetName()] = cliType(k.GetValueType().String())
		}
		for _, n := range workflows.SearchAttributeNames() {
			switch got, ok := created[n]; {
			case !ok:
				t.Errorf("%s does not create search attribute %s (workflows.SearchAttributeNames)", svcNamespace, n)
			case got != types[n]:
				t.Errorf("%s creates %s as %s, want %s", svcNamespace, n, got, types[n])
			}
		}
	})

	t.Run("volumes", func(t *testing.T) {
		if _, ok := f.Volumes["pgdata"]; !ok {
			t.Error("no named volume for PostgreSQL's data")
		}
	})
}

func TestComposeDockerfile(t *testing.T) {
	b, err := os.ReadFile("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	df := string(b)
	froms := regexp.MustCompile(`(?m)^FROM (\S+)`).FindAllStringSubmatch(df, -1)
	if len(froms) < 2 {
		t.Fatalf("Dockerfile has %d stages, want a build stage and a runtime stage", len(froms))
	}
	for _, m := range froms {
		if !strings.Contains(m[1], ":") || strings.HasSuffix(m[1], ":latest") {
			t.Errorf("FROM %s is not pinned", m[1])
		}
	}
	final := df[strings.LastIndex(df, "\nFROM "):]
	for _, want := range []string{"CGO_ENABLED=0", "-o /out/worker ./worker", "-o /out/starter ./starter"} {
		if !strings.Contains(df, want) {
			t.Errorf("Dockerfile lacks %q", want)
		}
	}
	user := regexp.MustCompile(`(?m)^USER (\S+)`).FindStringSubmatch(final)
	if user == nil || strings.HasPrefix(user[1], "root") || strings.HasPrefix(user[1], "0") {
		t.Errorf("the runtime stage does not run as a non-root user (USER %v)", user)
	}
	for _, bin := range []string{"/out/worker", "/out/starter", "/out/healthcheck"} {
		if !strings.Contains(final, bin) {
			t.Errorf("the runtime stage does not copy %s", bin)
		}
	}
}

func TestComposeDockerignore(t *testing.T) {
	b, err := os.ReadFile(".dockerignore")
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, l := range strings.Split(string(b), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			lines = append(lines, strings.TrimSuffix(strings.TrimPrefix(l, "/"), "/"))
		}
	}
	for _, want := range []string{".data", ".git", ".env", "**/testdata", "**/*_test.go"} {
		if !slices.Contains(lines, want) {
			t.Errorf(".dockerignore does not exclude %s", want)
		}
	}
	// What the build needs must stay: embedded files and the module files.
	for _, keep := range []string{"go.mod", "go.sum", "internal", "worker", "starter", "workflows", "activities"} {
		if slices.Contains(lines, keep) {
			t.Errorf(".dockerignore excludes %s, which the build needs", keep)
		}
	}
}

// TestComposeHealthProbe builds the probe the Dockerfile embeds (the API's
// health check runs it, as distroless has no curl) and runs it against a
// server that is ready, one that is not, and nothing at all.
func TestComposeHealthProbe(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a program")
	}
	b, err := os.ReadFile("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?s)\nCOPY <<EOF /probe/main\.go\n(.*?)\nEOF\n`).FindStringSubmatch(string(b))
	if m == nil {
		t.Fatal("Dockerfile has no COPY <<EOF /probe/main.go heredoc")
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(m[1]+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "healthcheck")
	build := exec.Command("go", "build", "-o", bin, "main.go")
	build.Dir = dir
	build.Env = append(os.Environ(), "GOFLAGS=", "GOWORK=off")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the probe: %v\n%s", err, out)
	}

	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/readyz" {
			w.WriteHeader(200)
			return
		}
		w.WriteHeader(503)
	}))
	defer srv.Close()
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()

	for _, c := range []struct {
		url  string
		want int
	}{
		{srv.URL + "/readyz", 0},
		{srv.URL + "/not-ready", 1},
		{closed.URL + "/readyz", 1},
	} {
		err := exec.Command(bin, c.url).Run()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		if code != c.want {
			t.Errorf("healthcheck %s: exit %d, want %d", c.url, code, c.want)
		}
	}
}

// cliType spells an IndexedValueType as the temporal CLI's --type does:
// INDEXED_VALUE_TYPE_KEYWORD_LIST -> KeywordList.
func cliType(v string) string {
	var b strings.Builder
	for _, w := range strings.Split(strings.TrimPrefix(v, "INDEXED_VALUE_TYPE_"), "_") {
		if w != "" {
			b.WriteString(w[:1] + strings.ToLower(w[1:]))
		}
	}
	return b.String()
}
