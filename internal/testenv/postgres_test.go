package testenv

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/leadrelay/leadrelay/internal/devstack"
)

// A helper process plays one package's test binary of a `go test ./...` run.
const (
	envHelperDir  = "TESTPG_HELPER_DIR"
	envHelperIdle = "TESTPG_HELPER_IDLE"
)

func TestMain(m *testing.M) {
	if dir := os.Getenv(envHelperDir); dir != "" {
		os.Exit(helperProcess(dir))
	}
	os.Exit(m.Run())
}

// helperProcess attaches to the private cluster in dir, checks the server
// answers a query, prints its URL and stays attached until stdin closes.
func helperProcess(dir string) int {
	idle, err := time.ParseDuration(os.Getenv(envHelperIdle))
	if err != nil {
		fmt.Println("error", err)
		return 1
	}
	u, err := privateServer(dir, idle)
	if err != nil {
		fmt.Println("error", err)
		return 1
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, u)
	if err != nil {
		fmt.Println("error", err)
		return 1
	}
	var one int
	err = c.QueryRow(ctx, `SELECT 1`).Scan(&one)
	_ = c.Close(ctx) // the query's answer is what counts
	if err != nil {
		fmt.Println("error", err)
		return 1
	}
	fmt.Println("url", u)
	_, _ = io.Copy(io.Discard, os.Stdin) // attached until the test lets go
	return 0
}

type helper struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	url   string
	err   error
}

func startHelper(dir string, idle time.Duration) *helper {
	h := &helper{cmd: exec.Command(os.Args[0], "-test.run=^$")}
	h.cmd.Env = append(os.Environ(), envHelperDir+"="+dir, envHelperIdle+"="+idle.String())
	h.cmd.Stderr = os.Stderr
	var out io.Reader
	if h.stdin, h.err = h.cmd.StdinPipe(); h.err != nil {
		return h
	}
	if out, h.err = h.cmd.StdoutPipe(); h.err != nil {
		return h
	}
	if h.err = h.cmd.Start(); h.err != nil {
		return h
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if u, ok := strings.CutPrefix(strings.TrimSpace(line), "url "); ok {
		h.url = u
	} else {
		h.err = fmt.Errorf("helper answered %q (%v)", line, err)
	}
	return h
}

// end detaches the helper, as a package's test binary does by exiting.
func (h *helper) end(t *testing.T) {
	t.Helper()
	if h.stdin != nil {
		_ = h.stdin.Close() // EOF is the helper's signal to exit
	}
	if h.cmd.Process != nil {
		if err := h.cmd.Wait(); err != nil {
			t.Errorf("helper: %v", err)
		}
	}
}

func postmasterPID(t *testing.T, dir string) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, clusterDir, "postmaster.pid"))
	if err != nil {
		t.Fatalf("the cluster's postmaster.pid: %v", err)
	}
	pid, err := strconv.Atoi(strings.SplitN(string(b), "\n", 2)[0])
	if err != nil {
		t.Fatalf("postmaster.pid: %v", err)
	}
	return pid
}

// sharedDir is a fresh directory for a private cluster of this test alone:
// the run's own (.data/testpg) may be in use by other packages.
func sharedDir(t *testing.T) string {
	t.Helper()
	root, err := devstack.Root()
	if err != nil {
		t.Fatal(err)
	}
	// Under the repository's .data, not t.TempDir: as root the cluster runs
	// as the postgres user, who cannot enter t.TempDir's 0700 directories.
	if err := os.MkdirAll(filepath.Join(root, ".data"), 0o755); err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp(filepath.Join(root, ".data"), "testpg-test-")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// Only after a failure is anything left to clear.
		devstack.KillPostmaster(filepath.Join(dir, clusterDir))
		_ = os.RemoveAll(dir)
	})
	return dir
}

// dirLogs is the end of the logs a private cluster's directory holds, for a
// failure's message.
func dirLogs(dir string) string {
	var b strings.Builder
	for _, name := range []string{urlFile, "supervisor.log", "postgres.log"} {
		content, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			content = []byte(err.Error())
		}
		fmt.Fprintf(&b, "--- %s:\n%s\n", name, tail(content))
	}
	return b.String()
}

// waitRemoved waits for dir to go, well beyond the idle period.
func waitRemoved(t *testing.T, dir string) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		_, err := os.Stat(dir)
		if os.IsNotExist(err) {
			break
		}
		if time.Now().After(deadline) {
			entries, _ := os.ReadDir(dir)
			t.Fatalf("%s still there 2 minutes after the last test process ended (%d entries)", dir, len(entries))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestPrivateClusterIsSharedByTheRunAndRemovedAfterIt(t *testing.T) {
	dir := sharedDir(t)
	const idle = 500 * time.Millisecond

	// Two packages' test binaries start at once, as `go test ./...` runs them.
	first := make([]*helper, 2)
	var wg sync.WaitGroup
	for i := range first {
		wg.Go(func() { first[i] = startHelper(dir, idle) })
	}
	wg.Wait()
	var helpers []*helper
	defer func() {
		for _, h := range helpers {
			h.end(t)
		}
	}()
	helpers = append(helpers, first...)
	for _, h := range first {
		if h.err != nil {
			t.Fatalf("a test process could not get the private server: %v", h.err)
		}
	}
	if first[0].url != first[1].url {
		t.Fatalf("two test processes of one run got two servers: %s and %s", first[0].url, first[1].url)
	}
	pid := postmasterPID(t, dir)

	// Several idle periods pass while they are attached; a third package
	// then still finds the same server, not a new one.
	time.Sleep(4 * idle)
	third := startHelper(dir, idle)
	helpers = append(helpers, third)
	if third.err != nil {
		t.Fatalf("a later test process could not get the private server: %v", third.err)
	}
	if third.url != first[0].url || postmasterPID(t, dir) != pid {
		t.Fatalf("a later test process got %s (postmaster %d), want the running %s (postmaster %d)",
			third.url, postmasterPID(t, dir), first[0].url, pid)
	}

	for _, h := range helpers {
		h.end(t)
	}
	helpers = nil
	// Once every test process has ended and the idle period passed, the
	// directory goes.
	waitRemoved(t, dir)
	if syscall.Kill(pid, 0) == nil {
		t.Errorf("postmaster %d still runs after its directory was removed", pid)
	}
	u, err := url.Parse(first[0].url)
	if err != nil {
		t.Fatal(err)
	}
	if c, err := net.DialTimeout("tcp", u.Host, 2*time.Second); err == nil {
		_ = c.Close() // it answered; that is the failure
		t.Errorf("something still answers on %s after the cluster was removed", u.Host)
	}
}

// A supervisor killed outright (or a machine restarted mid-run) leaves the
// directory with a URL nothing answers on; the next test process must start
// a new cluster there, not hand out the dead URL.
func TestPrivateClusterStartsAfreshWhenItsSupervisorDied(t *testing.T) {
	dir := sharedDir(t)
	const idle = 500 * time.Millisecond
	first := startHelper(dir, idle)
	if first.err != nil {
		t.Fatalf("a test process could not get the private server: %v", first.err)
	}
	pid := postmasterPID(t, dir)
	b, err := os.ReadFile(filepath.Join(dir, supervisorFile))
	if err != nil {
		t.Fatal(err)
	}
	sup, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatalf("supervisor file %q: %v", b, err)
	}
	if err := syscall.Kill(sup, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	// kill returns before the process has died: on a loaded machine it may
	// still hold its lock (and its postmaster still answer) for a while,
	// and a test process arriving then rightly joins the cluster that is
	// about to go. The case under test is the one after the death.
	for deadline := time.Now().Add(30 * time.Second); supervised(dir); {
		if time.Now().After(deadline) {
			t.Fatalf("supervisor %d still holds its lock 30 s after SIGKILL", sup)
		}
		time.Sleep(10 * time.Millisecond)
	}
	first.end(t)
	if _, err := os.Stat(filepath.Join(dir, urlFile)); err != nil {
		t.Fatalf("the dead cluster's URL file should still be there for this test to mean anything: %v", err)
	}

	// The helper checks the server answers a query before it reports a URL.
	next := startHelper(dir, idle)
	if next.err != nil {
		next.end(t)
		t.Fatalf("after the supervisor died, a test process could not get a private server (the dead one was %s): %v\n%s",
			first.url, next.err, dirLogs(dir))
	}
	if got := postmasterPID(t, dir); got == pid {
		t.Errorf("postmaster %d again, want a new one", got)
	}
	next.end(t)
	waitRemoved(t, dir)
}

// Which server the tests use, in the order the README gives. "Usable" is a
// server that lets postgres in without a password; Debian's fresh one on
// 5432 does not, and counts as absent.
func TestTestsUseTheirOwnClusterOnlyWhenNoServerIsNamedOrAnswering(t *testing.T) {
	const other = "postgres://u@db.example:5433/x"
	system := "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
	for _, c := range []struct {
		testURL, mode string
		usable        bool
		want          string // "" is the private cluster
		wantErr       bool
	}{
		{testURL: other, usable: true, want: other},
		{testURL: other, mode: "private", want: other},
		{usable: true, want: system},
		{usable: false, want: ""},
		{mode: "private", usable: true, want: ""},
		{mode: "system", usable: true, wantErr: true},
	} {
		got, err := whichServer(c.testURL, c.mode, func() bool { return c.usable })
		if (err != nil) != c.wantErr || got != c.want {
			t.Errorf("TEST_DATABASE_URL=%q %s=%q, 5432 usable %v: got %q, %v; want %q (error %v)",
				c.testURL, envPostgres, c.mode, c.usable, got, err, c.want, c.wantErr)
		}
		if err != nil && !strings.Contains(err.Error(), envPostgres) {
			t.Errorf("error %q does not name %s", err, envPostgres)
		}
	}
}
