// Package devstack starts the local parts of `starter dev` and of the tests:
// the Temporal dev server (built from the pinned tools module, never
// downloaded at run time) and a private PostgreSQL cluster.
package devstack

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// Root finds the repository root (the directory with leadrelay's go.mod)
// from the working directory upwards.
func Root() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && strings.HasPrefix(string(b), "module github.com/leadrelay/leadrelay\n") {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("not inside the leadrelay repository")
		}
		dir = parent
	}
}

// TemporalBinary builds the Temporal CLI pinned in tools/go.mod into
// .data/bin/temporal, unless a build newer than tools/go.sum is there. The
// first build takes a few minutes; Go's build cache makes later ones quick.
func TemporalBinary(ctx context.Context, root string, progress func(string)) (string, error) {
	bin := filepath.Join(root, ".data", "bin", "temporal")
	sum, err := os.Stat(filepath.Join(root, "tools", "go.sum"))
	if err != nil {
		return "", fmt.Errorf("tools/go.sum: %w", err)
	}
	if st, err := os.Stat(bin); err == nil && st.ModTime().After(sum.ModTime()) {
		return bin, nil
	}
	if progress != nil {
		progress("building the Temporal CLI from tools/go.mod (the first time takes about 4 minutes)")
	}
	if err := os.MkdirAll(filepath.Dir(bin), 0o755); err != nil {
		return "", err
	}
	// Build to a temporary name and rename, so parallel test packages never
	// see a half-written binary.
	tmp := fmt.Sprintf("%s.%d.tmp", bin, os.Getpid())
	cmd := exec.CommandContext(ctx, "go", "build", "-modfile=tools/go.mod", "-o", tmp, "github.com/temporalio/cli/cmd/temporal")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod")
	if out, err := cmd.CombinedOutput(); err != nil {
		_ = os.Remove(tmp) // often never written; the build's error is the one to report
		return "", fmt.Errorf("build Temporal CLI: %v\n%s", err, out)
	}
	return bin, os.Rename(tmp, bin)
}

// Proc is a child process that dies with us.
type Proc struct {
	Name string
	cmd  *exec.Cmd
	stop syscall.Signal
	// exited is closed when the process has ended, so any number of Stop,
	// Kill and Exited calls see it.
	exited chan struct{}
}

// StartProcess runs bin with the given environment (added to ours) in its
// own process group, logging to logPath; Stop sends SIGTERM, Kill SIGKILL.
func StartProcess(name, logPath string, env []string, bin string, args ...string) (*Proc, error) {
	return startEnv(name, syscall.SIGTERM, nil, logPath, env, bin, args...)
}

// Kill ends the process group at once, as a crash would.
func (p *Proc) Kill() {
	if p == nil {
		return
	}
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	<-p.exited
}

func start(name string, stop syscall.Signal, cred *syscall.Credential, logPath string, bin string, args ...string) (*Proc, error) {
	return startEnv(name, stop, cred, logPath, nil, bin, args...)
}

func startEnv(name string, stop syscall.Signal, cred *syscall.Credential, logPath string, env []string, bin string, args ...string) (*Proc, error) {
	cmd := exec.Command(bin, args...)
	if env != nil {
		cmd.Env = append(os.Environ(), env...)
	}
	// Own process group, and killed if we die: Ctrl-C leaves nothing behind.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL, Credential: cred}
	if logPath != "" {
		f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return nil, err
		}
		cmd.Stdout, cmd.Stderr = f, f
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &Proc{Name: name, cmd: cmd, stop: stop, exited: make(chan struct{})}
	go func() {
		// The exit status is not kept: Stop and Kill end the process on
		// purpose, and an early exit is explained in its log, not its status.
		_ = cmd.Wait()
		close(p.exited)
	}()
	return p, nil
}

// Stop signals the process (group) and waits, killing it after timeout.
func (p *Proc) Stop(timeout time.Duration) {
	if p == nil {
		return
	}
	_ = syscall.Kill(-p.cmd.Process.Pid, p.stop)
	select {
	case <-p.exited:
	case <-time.After(timeout):
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.exited
	}
}

// Exited reports whether the process has ended.
func (p *Proc) Exited() bool {
	select {
	case <-p.exited:
		return true
	default:
		return false
	}
}

// SearchAttributeArgs registers leadrelay's search attributes on a dev server.
func SearchAttributeArgs(names []string) []string {
	var a []string
	for _, n := range names {
		a = append(a, "--search-attribute", n+"=Keyword")
	}
	return a
}

// WALPragmas make the dev server's SQLite fast enough for the demo and bench
// (≈3× the default journal mode on this machine).
var WALPragmas = []string{"--sqlite-pragma", "journal_mode=wal", "--sqlite-pragma", "synchronous=normal"}

// StartTemporal runs `temporal server start-dev` with its Web UI, persisting to dbFile.
func StartTemporal(bin, dbFile, logPath string, port, uiPort int, searchAttrs []string) (*Proc, error) {
	args := []string{"server", "start-dev", "--ip", "127.0.0.1", "--port", strconv.Itoa(port),
		"--ui-port", strconv.Itoa(uiPort), "--db-filename", dbFile, "--log-level", "warn", "--namespace", "default"}
	args = append(args, WALPragmas...)
	args = append(args, SearchAttributeArgs(searchAttrs)...)
	return start("temporal", syscall.SIGTERM, nil, logPath, bin, args...)
}

// PostgresBin finds the directory with initdb and postgres: PATH first, then
// the newest /usr/lib/postgresql/*/bin (Debian keeps them off PATH).
func PostgresBin() (string, error) {
	if p, err := exec.LookPath("initdb"); err == nil {
		return filepath.Dir(p), nil
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool {
		vi, _ := strconv.Atoi(filepath.Base(filepath.Dir(dirs[i])))
		vj, _ := strconv.Atoi(filepath.Base(filepath.Dir(dirs[j])))
		return vi > vj
	})
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d, nil
		}
	}
	return "", fmt.Errorf("PostgreSQL binaries (initdb) not found: install postgresql or set DATABASE_URL")
}

// StartPostgres runs a private cluster in dir on a free port and returns its
// URL for database "leadrelay". PostgreSQL refuses to run as root, so as root
// it runs as the "postgres" user.
func StartPostgres(ctx context.Context, dir, logPath string) (string, *Proc, error) {
	port, err := FreePort(54329)
	if err != nil {
		return "", nil, err
	}
	return StartPostgresOnPort(ctx, dir, logPath, port)
}

// StartPostgresOnPort is StartPostgres on a given port: fault tests restart
// the cluster where its clients expect it.
func StartPostgresOnPort(ctx context.Context, dir, logPath string, port int) (string, *Proc, error) {
	binDir, err := PostgresBin()
	if err != nil {
		return "", nil, err
	}
	var cred *syscall.Credential
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return "", nil, fmt.Errorf("running as root needs a 'postgres' user for the private cluster: %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", nil, err
	}
	if pid := livePostmaster(dir); pid > 0 {
		return "", nil, fmt.Errorf("%s is in use by PostgreSQL pid %d: is another `starter dev` running? Stop it (Ctrl-C) first", dir, pid)
	}
	chown := func(path string) {
		if cred != nil {
			_ = filepath.Walk(path, func(p string, _ os.FileInfo, _ error) error {
				return os.Lchown(p, int(cred.Uid), int(cred.Gid))
			})
		}
	}
	chown(dir)
	if _, err := os.Stat(filepath.Join(dir, "PG_VERSION")); err != nil {
		cmd := exec.CommandContext(ctx, filepath.Join(binDir, "initdb"), "-D", dir, "-U", "postgres", "--auth=trust",
			"--encoding=UTF8", "--no-sync")
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
		if out, err := cmd.CombinedOutput(); err != nil {
			return "", nil, fmt.Errorf("initdb: %v\n%s", err, out)
		}
	}
	if logPath != "" {
		// Create it now, so chown can hand it to the postgres user.
		f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return "", nil, err
		}
		if err := f.Close(); err != nil {
			return "", nil, err
		}
		chown(logPath)
	}
	p, err := start("postgres", syscall.SIGINT, cred, logPath, filepath.Join(binDir, "postgres"), "-D", dir,
		"-p", strconv.Itoa(port), "-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories=",
		"-c", "max_connections=200")
	if err != nil {
		return "", nil, err
	}
	admin := fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", port)
	deadline := time.Now().Add(60 * time.Second)
	for {
		conn, err := pgx.Connect(ctx, admin)
		if err == nil {
			_, err = conn.Exec(ctx, `CREATE DATABASE leadrelay`)
			conn.Close(ctx)
			if err != nil && !strings.Contains(err.Error(), "already exists") {
				p.Stop(10 * time.Second)
				return "", nil, err
			}
			break
		}
		if p.Exited() || time.Now().After(deadline) {
			p.Stop(time.Second)
			return "", nil, fmt.Errorf("private PostgreSQL in %s did not start (see %s): %v", dir, logPath, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/leadrelay?sslmode=disable", port), p, nil
}

// KillPostmaster ends at once the postmaster that runs on dir, if one does:
// for a cluster whose owner died without stopping it.
func KillPostmaster(dir string) {
	if pid := livePostmaster(dir); pid > 0 {
		// SIGQUIT is PostgreSQL's immediate shutdown: its backends go too.
		_ = syscall.Kill(pid, syscall.SIGQUIT)
		for i := 0; i < 100 && livePostmaster(dir) > 0; i++ {
			time.Sleep(100 * time.Millisecond)
		}
	}
}

// livePostmaster returns the pid in dir/postmaster.pid if that process lives.
func livePostmaster(dir string) int {
	b, err := os.ReadFile(filepath.Join(dir, "postmaster.pid"))
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(strings.SplitN(string(b), "\n", 2)[0]))
	if err != nil || pid <= 0 {
		return 0
	}
	if syscall.Kill(pid, 0) != nil {
		return 0
	}
	return pid
}

// FreePort returns preferred if it is free, else any free port.
func FreePort(preferred int) (int, error) {
	if preferred > 0 {
		if ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", preferred)); err == nil {
			return preferred, ln.Close()
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	return ln.Addr().(*net.TCPAddr).Port, ln.Close()
}

// PortFree reports whether addr can be listened on.
func PortFree(addr string) bool {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return false
	}
	return ln.Close() == nil
}
