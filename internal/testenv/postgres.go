package testenv

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"go.uber.org/zap"

	"github.com/leadrelay/leadrelay/internal/devstack"
)

// The tests' PostgreSQL server, in order: TEST_DATABASE_URL; the machine's
// server on 127.0.0.1:5432 if it lets postgres log in over TCP without a
// password; else a private cluster from the PostgreSQL binaries, as
// `starter dev` starts one, so the test command needs no more set-up than
// the start command. Debian's postgresql package starts a server on 5432
// that asks TCP logins for a password: the tests cannot use it as it is, so
// it counts as absent rather than as an error for a newcomer to fix.
//
// `go test ./...` runs each package's test binary as its own process, often
// two at once, so the private cluster is shared through a directory
// (<repo>/.data/testpg): the first process starts it under a lock, later ones
// read its URL. No test process can stop it at its own end without pulling
// it from under the others, so a detached supervisor (this package's test
// binary, re-executed) owns the cluster and removes it once no test process
// has been attached for privateIdle.
const (
	// envPostgres=private uses the private cluster even when 5432 is usable.
	envPostgres = "LEADRELAY_TEST_POSTGRES"
	// envSupervise tells a re-executed test binary to be the supervisor of
	// the directory it names (envSuperviseIdle: its idle period).
	envSupervise     = "LEADRELAY_TESTPG_SUPERVISE"
	envSuperviseIdle = "LEADRELAY_TESTPG_IDLE"

	systemServer = "127.0.0.1:5432"
	systemURL    = "postgres://postgres@" + systemServer + "/postgres?sslmode=disable"
	// privateIdle outlasts the usual gap while `go test` links the next
	// package's binary, so a run starts one cluster; a longer gap costs a
	// second initdb (about 2 s), never a wrong answer.
	privateIdle = 60 * time.Second
)

// Files in the shared directory. lockFile serialises attach, start and
// removal; usersFile carries one shared flock per attached test process
// (held until it exits, so a crashed test detaches too); supervisorFile is
// flocked by the supervisor for its whole life, so a stale directory (its
// supervisor killed) is recognised and started afresh.
const (
	lockFile       = "lock"
	usersFile      = "users"
	supervisorFile = "supervisor"
	urlFile        = "url"
	clusterDir     = "cluster"
)

func init() {
	// Before the testing package parses flags: the supervisor has none.
	if dir := os.Getenv(envSupervise); dir != "" {
		idle, err := time.ParseDuration(os.Getenv(envSuperviseIdle))
		if err != nil {
			idle = privateIdle
		}
		os.Exit(supervise(dir, idle))
	}
}

var (
	serverOnce sync.Once
	serverURL  string
	serverErr  error
)

// ServerURL is the admin URL of the PostgreSQL server tests use (see
// whichServer); it starts or joins the private cluster on first use.
func ServerURL() (string, error) {
	serverOnce.Do(func() {
		serverURL, serverErr = whichServer(os.Getenv("TEST_DATABASE_URL"), os.Getenv(envPostgres),
			systemUsable)
		if serverErr != nil || serverURL != "" {
			return
		}
		root, err := devstack.Root()
		if err != nil {
			serverErr = err
			return
		}
		dir := filepath.Join(root, ".data", "testpg")
		serverURL, serverErr = privateServer(dir, privateIdle)
		if serverErr != nil {
			serverErr = fmt.Errorf("the tests' private PostgreSQL cluster in %s (TEST_DATABASE_URL names another server): %w", dir, serverErr)
		}
	})
	return serverURL, serverErr
}

// whichServer decides from TEST_DATABASE_URL, LEADRELAY_TEST_POSTGRES and
// whether the machine's server is usable: a URL, or "" for the private
// cluster.
// The probe runs only when the answer depends on it.
func whichServer(testURL, mode string, systemUsable func() bool) (string, error) {
	switch {
	case testURL != "":
		return testURL, nil
	case mode == "private":
		return "", nil
	case mode != "":
		return "", fmt.Errorf("%s=%q: want private, or unset to use %s when it lets tests in", envPostgres, mode, systemServer)
	case systemUsable():
		return systemURL, nil
	default:
		return "", nil
	}
}

// systemUsable reports whether postgres logs in on the machine's server with
// no password, as the tests would.
func systemUsable() bool {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, systemURL)
	if err != nil {
		return false
	}
	defer func() { _ = c.Close(ctx) }() // only the login mattered
	return c.Ping(ctx) == nil
}

// privateServer attaches this process to the private cluster in dir,
// starting it (and its supervisor) if none runs, and returns its admin URL.
// The attachment lasts until the process exits.
func privateServer(dir string, idle time.Duration) (string, error) {
	for range 10 {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return "", err
		}
		lock, err := lockPath(filepath.Join(dir, lockFile), syscall.LOCK_EX)
		if errors.Is(err, errReplaced) {
			// The supervisor removed the directory while we waited: the
			// cluster we would have joined is gone, make a new one.
			continue
		}
		if err != nil {
			return "", err
		}
		u, err := attachLocked(dir, idle)
		_ = lock.Close() // releases the flock; nothing was written through it
		return u, err
	}
	return "", fmt.Errorf("%s: removed under us 10 times in a row", dir)
}

var errReplaced = errors.New("lock file replaced")

// lockPath opens and flocks path, and fails with errReplaced if path was
// removed or replaced before the lock was granted (a lock on an unlinked
// file guards nothing).
func lockPath(path string, how int) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	if err := flock(f, how); err != nil {
		_ = f.Close() // the flock error is the one to report
		return nil, err
	}
	held, err1 := f.Stat()
	now, err2 := os.Stat(path)
	if err1 != nil || err2 != nil || !os.SameFile(held, now) {
		_ = f.Close() // the lock is worthless either way
		return nil, errReplaced
	}
	return f, nil
}

func flock(f *os.File, how int) error {
	for {
		err := syscall.Flock(int(f.Fd()), how)
		if err != syscall.EINTR {
			return err
		}
	}
}

// users holds this process's attachment; it is never closed, so the shared
// lock lasts until the process exits.
var (
	usersMu sync.Mutex
	users   = map[string]*os.File{}
)

// attachLocked runs under dir's lock: it joins the running cluster or
// starts a new one, then marks this process attached.
func attachLocked(dir string, idle time.Duration) (string, error) {
	b, err := os.ReadFile(filepath.Join(dir, urlFile))
	if err != nil || !supervised(dir) {
		// Fresh, or stale: its supervisor died (and its postmaster with it,
		// by the parent-death signal); start over in the same place.
		if err := clean(dir); err != nil {
			return "", err
		}
		u, err := startSupervisor(dir, idle)
		if err != nil {
			// The log goes with the directory: keep its end in the error.
			if b, rerr := os.ReadFile(filepath.Join(dir, "postgres.log")); rerr == nil && len(b) > 0 {
				err = fmt.Errorf("%w\npostgres.log: %s", err, tail(b))
			}
			_ = clean(dir) // the next process tries afresh; err says why this one failed
			return "", err
		}
		if err := os.WriteFile(filepath.Join(dir, urlFile), []byte(u), 0o644); err != nil {
			return "", err
		}
		b = []byte(u)
	}
	usersMu.Lock()
	defer usersMu.Unlock()
	if users[dir] == nil {
		f, err := os.OpenFile(filepath.Join(dir, usersFile), os.O_RDWR|os.O_CREATE, 0o644)
		if err != nil {
			return "", err
		}
		if err := flock(f, syscall.LOCK_SH); err != nil {
			_ = f.Close() // the flock error is the one to report
			return "", err
		}
		users[dir] = f
	}
	return string(b), nil
}

// tail is the end of a log, for an error message.
func tail(b []byte) string {
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(b)
}

// supervised reports whether a live supervisor holds dir's supervisor lock.
func supervised(dir string) bool {
	f, err := os.Open(filepath.Join(dir, supervisorFile))
	if err != nil {
		return false
	}
	defer func() { _ = f.Close() }() // read-only probe
	// A shared lock is refused only while the supervisor holds its exclusive one.
	return syscall.Flock(int(f.Fd()), syscall.LOCK_SH|syscall.LOCK_NB) != nil
}

// clean empties dir but for its lock file, stopping a postmaster a killed
// supervisor may have left.
func clean(dir string) error {
	devstack.KillPostmaster(filepath.Join(dir, clusterDir))
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if e.Name() == lockFile {
			continue
		}
		if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
			return err
		}
	}
	return nil
}

// startSupervisor starts the detached supervisor and returns the cluster's
// admin URL once it runs. The supervisor gets no stdout or stderr of ours
// beyond the one line it answers: `go test` waits for every holder of its
// output pipes, and would wait for the idle period.
func startSupervisor(dir string, idle time.Duration) (string, error) {
	exe, err := os.Executable()
	if err != nil {
		return "", err
	}
	logf, err := os.OpenFile(filepath.Join(dir, "supervisor.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return "", err
	}
	defer func() { _ = logf.Close() }() // the child holds its own copy
	cmd := exec.Command(exe)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), envSupervise+"="+dir, envSuperviseIdle+"="+idle.String())
	cmd.Stderr = logf
	// Its own session: the terminal's Ctrl-C ends the tests, and the
	// supervisor still removes the cluster afterwards.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	// A plain pipe, not StdoutPipe: Wait below may run before we read, and
	// must not close our end.
	out, w, err := os.Pipe()
	if err != nil {
		return "", err
	}
	defer func() { _ = out.Close() }() // read once below
	cmd.Stdout = w
	err = cmd.Start()
	_ = w.Close() // the child's copy is the one that ends our read
	if err != nil {
		return "", fmt.Errorf("start the private PostgreSQL's supervisor: %w", err)
	}
	// Reaps it should it end while we live; it is meant to outlive us.
	go func() { _ = cmd.Wait() }()
	line, err := bufio.NewReader(out).ReadString('\n')
	line = strings.TrimSpace(line)
	if u, ok := strings.CutPrefix(line, "ok "); ok {
		return u, nil
	}
	if q, ok := strings.CutPrefix(line, "error "); ok {
		if msg, err := strconv.Unquote(q); err == nil {
			return "", errors.New(msg)
		}
		return "", errors.New(q)
	}
	b, _ := os.ReadFile(filepath.Join(dir, "supervisor.log"))
	return "", fmt.Errorf("the private PostgreSQL's supervisor ended without an answer (%v): %s", err, tail(b))
}

// supervise is the supervisor's whole life: start the cluster, answer its
// URL on stdout, then every tick check under the lock whether any test
// process is attached; once none has been for idle, stop the cluster and
// remove dir.
func supervise(dir string, idle time.Duration) int {
	log := zap.New(nil)
	if l, err := zap.NewProduction(); err == nil {
		log = l.With(zap.String("component", "testpg"), zap.String("dir", dir))
	}
	answer := func(line string) {
		_, _ = fmt.Fprintln(os.Stdout, line) // nobody to tell if the reader went away
		_ = os.Stdout.Close()                // EOF: the starter stops reading
	}
	fail := func(err error) int {
		// Quoted: the answer is one line, and initdb's own words are in err.
		answer("error " + strconv.Quote(err.Error()))
		return 1
	}
	me, err := os.OpenFile(filepath.Join(dir, supervisorFile), os.O_RDWR|os.O_CREATE, 0o644)
	if err == nil {
		err = flock(me, syscall.LOCK_EX|syscall.LOCK_NB)
	}
	if err != nil {
		return fail(fmt.Errorf("supervisor lock: %w", err))
	}
	// The lock lives as long as the open file: without a use at the end,
	// the garbage collector may finalize me (closing it, dropping the lock)
	// while the cluster runs, and the next test process would take the
	// cluster for orphaned and start another in its directory.
	defer runtime.KeepAlive(me)
	// For a person (or test) who wants to know which process owns the cluster.
	_, _ = fmt.Fprintf(me, "%d\n", os.Getpid())
	port, err := devstack.FreePort(0)
	if err != nil {
		return fail(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	dbURL, pg, err := devstack.StartPostgresOnPort(ctx, filepath.Join(dir, clusterDir), filepath.Join(dir, "postgres.log"), port)
	cancel()
	if err != nil {
		return fail(err)
	}
	u, err := url.Parse(dbURL)
	if err != nil {
		pg.Stop(30 * time.Second)
		return fail(err)
	}
	u.Path = "/postgres" // an admin URL, as for the machine's server
	log.Info("private PostgreSQL started", zap.Int("port", port), zap.Duration("idle", idle))
	answer("ok " + u.String())

	users, err := os.OpenFile(filepath.Join(dir, usersFile), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		log.Error("users file", zap.Error(err))
		pg.Stop(30 * time.Second)
		return 1
	}
	tick := max(10*time.Millisecond, min(time.Second, idle/4))
	// Asked to stop (a shutdown, kill's default), it still stops the cluster
	// and removes the directory, under the lock like an idle end.
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	stopped := false
	var idleSince time.Time
	for {
		select {
		case <-time.After(tick):
		case <-stop:
			stopped = true
		}
		lock, err := lockPath(filepath.Join(dir, lockFile), syscall.LOCK_EX)
		if err != nil {
			// Nobody else removes the directory while we live; if it went,
			// someone removed it by hand: nothing is left to share.
			log.Warn("lock file gone; stopping", zap.Error(err))
			pg.Stop(30 * time.Second)
			_ = os.RemoveAll(dir) // whatever is left of it
			return 1
		}
		done := false
		switch {
		case stopped:
			log.Info("asked to stop")
			done = true
		case pg.Exited():
			log.Warn("PostgreSQL ended on its own; removing the directory (see postgres.log in it while it lasts)")
			done = true
		case syscall.Flock(int(users.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) == nil:
			_ = syscall.Flock(int(users.Fd()), syscall.LOCK_UN) // only probing
			if idleSince.IsZero() {
				idleSince = time.Now()
			}
			done = time.Since(idleSince) >= idle
		default:
			idleSince = time.Time{}
		}
		if done {
			// Still under the lock: an arriving test waits, then finds the
			// directory gone and starts a new cluster.
			pg.Stop(30 * time.Second)
			err := os.RemoveAll(dir)
			log.Info("private PostgreSQL stopped and removed", zap.Error(err))
			_ = lock.Close() // on an unlinked file now
			return 0
		}
		_ = lock.Close() // releases the flock
	}
}
