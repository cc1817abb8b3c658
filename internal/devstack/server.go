package devstack

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"go.uber.org/zap"
	"go.yaml.in/yaml/v3"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/leadrelay/leadrelay/internal/logging"
)

// The production-shaped Temporal server: the real server binary
// (go.temporal.io/server cmd/server, at the version tools/go.mod pins) with
// persistence and visibility on PostgreSQL and the module's stock SQL dynamic
// config. Unlike the dev server it limits IDs to 255 bytes and refuses newly
// added search attributes for several seconds, as production does.

// TemporalServerBinaries builds the Temporal server and its SQL schema tool
// pinned in tools/go.mod into .data/bin/temporal-server and
// .data/bin/temporal-sql-tool, unless builds newer than tools/go.sum are there.
func TemporalServerBinaries(ctx context.Context, root string, progress func(string)) (server, sqlTool string, err error) {
	dir := filepath.Join(root, ".data", "bin")
	server, sqlTool = filepath.Join(dir, "temporal-server"), filepath.Join(dir, "temporal-sql-tool")
	sum, err := os.Stat(filepath.Join(root, "tools", "go.sum"))
	if err != nil {
		return "", "", fmt.Errorf("tools/go.sum: %w", err)
	}
	fresh := func(p string) bool {
		st, err := os.Stat(p)
		return err == nil && st.ModTime().After(sum.ModTime())
	}
	if fresh(server) && fresh(sqlTool) {
		return server, sqlTool, nil
	}
	if progress != nil {
		progress("building the Temporal server and SQL tool from tools/go.mod (the first time takes several minutes)")
	}
	// Build into a private directory and rename, so parallel test packages
	// never see a half-written binary.
	tmp := filepath.Join(dir, fmt.Sprintf(".build-%d", os.Getpid()))
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		return "", "", err
	}
	defer func() { err = errors.Join(err, os.RemoveAll(tmp)) }()
	cmd := exec.CommandContext(ctx, "go", "build", "-modfile=tools/go.mod", "-o", tmp+string(filepath.Separator),
		"go.temporal.io/server/cmd/server", "go.temporal.io/server/cmd/tools/sql")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", "", fmt.Errorf("build Temporal server: %v\n%s", err, out)
	}
	if err := os.Rename(filepath.Join(tmp, "sql"), sqlTool); err != nil {
		return "", "", err
	}
	return server, sqlTool, os.Rename(filepath.Join(tmp, "server"), server)
}

// TemporalServerModuleDir is the module cache directory of the pinned
// go.temporal.io/server (schemas and stock configs live there).
func TemporalServerModuleDir(ctx context.Context, root string) (string, error) {
	cmd := exec.CommandContext(ctx, "go", "list", "-modfile=tools/go.mod", "-m", "-f", "{{.Dir}}", "go.temporal.io/server")
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			err = fmt.Errorf("%v: %s", err, ee.Stderr)
		}
		return "", fmt.Errorf("locate go.temporal.io/server in the module cache: %w", err)
	}
	dir := strings.TrimSpace(string(out))
	if dir == "" {
		return "", fmt.Errorf("go.temporal.io/server is not in the module cache (build the server first)")
	}
	return dir, nil
}

// TemporalServerOptions says where and how to run the production-shaped server.
type TemporalServerOptions struct {
	ServerBin, SQLToolBin string
	// ModuleDir is go.temporal.io/server's module directory (TemporalServerModuleDir).
	ModuleDir string
	// PostgresURL is an admin URL of the PostgreSQL server; two fresh databases
	// are created on it.
	PostgresURL string
	// Dir holds the config and the log; a temporary directory when empty
	// (then removed by Stop).
	Dir string
	// Namespace is registered after the start; "default" when empty.
	Namespace string
	// Retention of the namespace; 24h when zero.
	Retention time.Duration
	// LogLevel of the server; "warn" when empty.
	LogLevel string
}

// TemporalServer is a running production-shaped Temporal server.
type TemporalServer struct {
	opts            TemporalServerOptions
	dir             string
	dbs             []string
	frontend        string
	proc            *Proc
	pgHost, pgPort  string
	pgUser, pgPass  string
	removeDirOnStop bool
}

// FrontendHostPort is the frontend's gRPC address.
func (s *TemporalServer) FrontendHostPort() string { return s.frontend }

// LogPath is the server's log file.
func (s *TemporalServer) LogPath() string { return filepath.Join(s.dir, "server.log") }

// Databases are the persistence and visibility database names.
func (s *TemporalServer) Databases() []string { return append([]string(nil), s.dbs...) }

// StartPinnedTemporalServer builds (or reuses) the binaries tools/go.mod pins,
// finds the module's schemas and configs, and starts the server with opts.
func StartPinnedTemporalServer(ctx context.Context, root string, progress func(string), opts TemporalServerOptions) (*TemporalServer, error) {
	var err error
	opts.ServerBin, opts.SQLToolBin, err = TemporalServerBinaries(ctx, root, progress)
	if err != nil {
		return nil, err
	}
	if opts.ModuleDir, err = TemporalServerModuleDir(ctx, root); err != nil {
		return nil, err
	}
	return StartTemporalServer(ctx, opts)
}

// StartTemporalServer creates two fresh databases with the schema tool,
// writes a config derived from the module's development-postgres12.yaml on
// free ports, starts the server, waits for its frontend and registers the
// namespace. Search attributes are left to the application, as in production.
func StartTemporalServer(ctx context.Context, opts TemporalServerOptions) (_ *TemporalServer, err error) {
	if opts.Namespace == "" {
		opts.Namespace = "default"
	}
	if opts.Retention == 0 {
		opts.Retention = 24 * time.Hour
	}
	if opts.LogLevel == "" {
		opts.LogLevel = "warn"
	}
	u, err := url.Parse(opts.PostgresURL)
	if err != nil {
		return nil, fmt.Errorf("PostgreSQL URL: %w", err)
	}
	s := &TemporalServer{opts: opts, dir: opts.Dir, pgHost: u.Hostname(), pgPort: u.Port(), pgUser: u.User.Username()}
	s.pgPass, _ = u.User.Password()
	if s.pgPort == "" {
		s.pgPort = "5432"
	}
	if s.pgHost == "" {
		s.pgHost = "127.0.0.1"
	}
	if s.dir == "" {
		if s.dir, err = os.MkdirTemp("", "leadrelay-temporal-"); err != nil {
			return nil, err
		}
		s.removeDirOnStop = true
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, s.Stop())
		}
	}()
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	base := "lrtemporal_" + hex.EncodeToString(b)
	s.dbs = []string{base, base + "_vis"}
	schemas := []string{"temporal", "visibility"}
	for i, db := range s.dbs {
		if err := s.setupSchema(ctx, db, filepath.Join(opts.ModuleDir, "schema", "postgresql", "v12", schemas[i], "versioned")); err != nil {
			return nil, err
		}
	}
	if err := s.writeConfig(); err != nil {
		return nil, err
	}
	if err := s.start(ctx); err != nil {
		return nil, err
	}
	if err := s.registerNamespace(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *TemporalServer) sqlTool(ctx context.Context, db string, args ...string) error {
	a := []string{"--plugin", "postgres12", "--ep", s.pgHost, "-p", s.pgPort, "-u", s.pgUser, "--db", db}
	if s.pgPass != "" {
		a = append(a, "--pw", s.pgPass)
	}
	cmd := exec.CommandContext(ctx, s.opts.SQLToolBin, append(a, args...)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("temporal-sql-tool %s (database %s): %v\n%s", strings.Join(args, " "), db, err, out)
	}
	return nil
}

func (s *TemporalServer) setupSchema(ctx context.Context, db, versioned string) error {
	if err := s.sqlTool(ctx, db, "create-database"); err != nil {
		return err
	}
	if err := s.sqlTool(ctx, db, "setup-schema", "-v", "0.0"); err != nil {
		return err
	}
	return s.sqlTool(ctx, db, "update-schema", "-d", versioned)
}

// freePorts returns n distinct free ports below 32768: the SQL schema keeps
// membership ports in a smallint, so Linux's ephemeral ports (32768 and up,
// what FreePort(0) gives) make the server fail at start.
func freePorts(n int) ([]int, error) {
	seen := map[int]bool{}
	var out []int
	for tries := 0; len(out) < n; tries++ {
		if tries > 1000*n {
			return nil, fmt.Errorf("no %d distinct free ports in 20000-32767", n)
		}
		b := make([]byte, 2)
		_, _ = rand.Read(b)
		p := 20000 + (int(b[0])<<8|int(b[1]))%12768
		if seen[p] || !PortFree(fmt.Sprintf("127.0.0.1:%d", p)) {
			continue
		}
		seen[p] = true
		out = append(out, p)
	}
	return out, nil
}

// writeConfig derives config/development.yaml from the module's
// development-postgres12.yaml and copies the stock SQL dynamic config.
func (s *TemporalServer) writeConfig() error {
	stock, err := os.ReadFile(filepath.Join(s.opts.ModuleDir, "config", "development-postgres12.yaml"))
	if err != nil {
		return err
	}
	var cfg map[string]any
	if err := yaml.Unmarshal(stock, &cfg); err != nil {
		return fmt.Errorf("development-postgres12.yaml: %w", err)
	}
	ports, err := freePorts(10)
	if err != nil {
		return err
	}
	m := func(v any, keys ...string) map[string]any {
		for _, k := range keys {
			v = v.(map[string]any)[k]
		}
		return v.(map[string]any)
	}
	// Archival is not configured in production; pprof is not needed here.
	delete(cfg, "archival")
	delete(m(cfg, "namespaceDefaults"), "archival")
	if len(m(cfg, "namespaceDefaults")) == 0 {
		delete(cfg, "namespaceDefaults")
	}
	delete(m(cfg, "global"), "pprof")
	m(cfg, "log")["level"] = s.opts.LogLevel
	m(cfg, "log")["stdout"] = true
	stores := m(cfg, "persistence", "datastores")
	for i, name := range []string{"postgres-default", "postgres-visibility"} {
		sql := m(stores, name, "sql")
		sql["databaseName"] = s.dbs[i]
		sql["connectAddr"] = s.pgHost + ":" + s.pgPort
		sql["user"] = s.pgUser
		sql["password"] = s.pgPass
	}
	m(cfg, "global", "metrics", "prometheus")["listenAddress"] = "127.0.0.1:" + strconv.Itoa(ports[0])
	svc := m(cfg, "services")
	i := 1
	for _, name := range []string{"frontend", "history", "matching", "worker"} {
		rpc := m(svc, name, "rpc")
		rpc["grpcPort"], rpc["membershipPort"] = ports[i], ports[i+1]
		i += 2
	}
	m(svc, "frontend", "rpc")["httpPort"] = ports[i]
	s.frontend = "127.0.0.1:" + strconv.Itoa(ports[1])
	m(cfg, "clusterMetadata", "clusterInformation", "active")["rpcAddress"] = s.frontend
	dyn := filepath.Join(s.dir, "config", "dynamicconfig", "development-sql.yaml")
	m(cfg, "dynamicConfigClient")["filepath"] = dyn
	out, err := yaml.Marshal(cfg)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(dyn), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(s.dir, "config", "development.yaml"), out, 0o644); err != nil {
		return err
	}
	stockDyn, err := os.ReadFile(filepath.Join(s.opts.ModuleDir, "config", "dynamicconfig", "development-sql.yaml"))
	if err != nil {
		return err
	}
	return os.WriteFile(dyn, stockDyn, 0o644)
}

func quietLogger() sdklog.Logger { return logging.Temporal(zap.NewNop()) }

// start runs the server and waits until its frontend answers.
func (s *TemporalServer) start(ctx context.Context) error {
	p, err := start("temporal-server", syscall.SIGTERM, nil, s.LogPath(), s.opts.ServerBin,
		"--root", s.dir, "--config", "config", "--env", "development", "--allow-no-auth", "start")
	if err != nil {
		return err
	}
	s.proc = p
	deadline := time.Now().Add(2 * time.Minute)
	for {
		err := func() error {
			cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			c, err := client.DialContext(cctx, client.Options{HostPort: s.frontend, Namespace: s.opts.Namespace,
				Logger: quietLogger()})
			if err != nil {
				return err
			}
			defer c.Close()
			_, err = c.CheckHealth(cctx, &client.CheckHealthRequest{})
			return err
		}()
		if err == nil {
			return nil
		}
		if p.Exited() {
			return fmt.Errorf("temporal server exited at start: %s", s.logTail())
		}
		if ctx.Err() != nil || time.Now().After(deadline) {
			return fmt.Errorf("temporal server frontend %s not up after 2 minutes: %v\n%s", s.frontend, err, s.logTail())
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// registerNamespace registers the namespace (an existing one is fine) and
// waits until the frontend serves it.
func (s *TemporalServer) registerNamespace(ctx context.Context) error {
	c, err := client.DialContext(ctx, client.Options{HostPort: s.frontend, Logger: quietLogger()})
	if err != nil {
		return err
	}
	defer c.Close()
	svc := c.WorkflowService()
	_, err = svc.RegisterNamespace(ctx, &workflowservice.RegisterNamespaceRequest{
		Namespace:                        s.opts.Namespace,
		WorkflowExecutionRetentionPeriod: durationpb.New(s.opts.Retention),
	})
	var exists *serviceerror.NamespaceAlreadyExists
	if err != nil && !errors.As(err, &exists) {
		return fmt.Errorf("register namespace %s: %w", s.opts.Namespace, err)
	}
	return s.waitNamespace(ctx, c)
}

// waitNamespace waits until the namespace is described and, through the
// frontend's namespace cache, listable.
func (s *TemporalServer) waitNamespace(ctx context.Context, c client.Client) error {
	svc := c.WorkflowService()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		_, err := svc.DescribeNamespace(ctx, &workflowservice.DescribeNamespaceRequest{Namespace: s.opts.Namespace})
		if err == nil {
			_, err = svc.ListWorkflowExecutions(ctx, &workflowservice.ListWorkflowExecutionsRequest{
				Namespace: s.opts.Namespace, PageSize: 1})
		}
		if err == nil {
			return nil
		}
		if ctx.Err() != nil || time.Now().After(deadline) {
			return fmt.Errorf("namespace %s not usable after 2 minutes: %w", s.opts.Namespace, err)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// Restart stops the server and starts it again on the same databases and
// ports, as a crash or a redeploy of the Temporal server would.
func (s *TemporalServer) Restart(ctx context.Context) error {
	if s.proc != nil {
		s.proc.Stop(30 * time.Second)
		s.proc = nil
	}
	if err := s.start(ctx); err != nil {
		return err
	}
	c, err := client.DialContext(ctx, client.Options{HostPort: s.frontend, Logger: quietLogger()})
	if err != nil {
		return err
	}
	defer c.Close()
	return s.waitNamespace(ctx, c)
}

// Stop ends the server, drops its databases and removes a temporary directory.
func (s *TemporalServer) Stop() error {
	if s.proc != nil {
		s.proc.Stop(20 * time.Second)
		s.proc = nil
	}
	var errs []error
	if len(s.dbs) > 0 {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if c, err := pgx.Connect(ctx, s.opts.PostgresURL); err != nil {
			errs = append(errs, err)
		} else {
			for _, db := range s.dbs {
				if _, err := c.Exec(ctx, `DROP DATABASE IF EXISTS `+pgx.Identifier{db}.Sanitize()+` WITH (FORCE)`); err != nil {
					errs = append(errs, err)
				}
			}
			c.Close(ctx)
		}
		s.dbs = nil
	}
	if s.removeDirOnStop && os.Getenv("TEST_TEMPORAL_KEEP") == "" {
		errs = append(errs, os.RemoveAll(s.dir))
	}
	return errors.Join(errs...)
}

// logTail is the end of the server's log, for error messages.
func (s *TemporalServer) logTail() string {
	b, err := os.ReadFile(s.LogPath())
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return "log " + s.LogPath() + ":\n" + string(b)
}
