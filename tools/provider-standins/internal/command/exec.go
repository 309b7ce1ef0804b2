package command

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"
)

// runRequest is one command to run.
type runRequest struct {
	Op      string // "create", "update" or "delete" (for messages)
	Command string
	Spec    *spec
	// Previous stdout/stderr, put in the environment as PULUMI_COMMAND_STDOUT
	// and PULUMI_COMMAND_STDERR when Spec.AddPreviousOutputInEnv (and Prev).
	Prev           bool
	PrevStdout     string
	PrevStderr     string
	Timeout        time.Duration
	LogLine        func(line string) // nil: no logging
	tailLinesInErr int
}

type runResult struct {
	Stdout, Stderr string
}

// lineWriter buffers everything written to it and calls emit for each
// complete line (the rest at flush).
type lineWriter struct {
	mu      sync.Mutex
	all     bytes.Buffer
	partial []byte
	emit    func(string)
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.all.Write(p)
	if w.emit == nil {
		return len(p), nil
	}
	w.partial = append(w.partial, p...)
	for {
		i := bytes.IndexByte(w.partial, '\n')
		if i < 0 {
			break
		}
		w.emit(strings.TrimRight(string(w.partial[:i]), "\r"))
		w.partial = w.partial[i+1:]
	}
	return len(p), nil
}

func (w *lineWriter) flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.emit != nil && len(w.partial) > 0 {
		w.emit(string(w.partial))
	}
	w.partial = nil
}

// environ is the provider's environment plus the command's variables (the
// command's win), plus PULUMI_COMMAND_STDOUT/STDERR when asked for.
func environ(r *runRequest) []string {
	extra := map[string]string{}
	for k, v := range r.Spec.Environment {
		extra[k] = v
	}
	if r.Prev && r.Spec.AddPreviousOutputInEnv {
		extra["PULUMI_COMMAND_STDOUT"] = r.PrevStdout
		extra["PULUMI_COMMAND_STDERR"] = r.PrevStderr
	}
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if _, over := extra[k]; !over {
			env = append(env, kv)
		}
	}
	keys := make([]string, 0, len(extra))
	for k := range extra {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		env = append(env, k+"="+extra[k])
	}
	return env
}

// redact replaces every secret string in s by [secret].
func redact(s string, secrets []string) string {
	for _, sec := range secrets {
		s = strings.ReplaceAll(s, sec, "[secret]")
	}
	return s
}

func tail(s string, n int) string {
	s = strings.TrimRight(s, "\n")
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = append([]string{fmt.Sprintf("... (%d earlier lines)", len(lines)-n)}, lines[len(lines)-n:]...)
	}
	return strings.Join(lines, "\n")
}

// run runs r.Command with the interpreter, in r.Spec.Dir, with the
// environment and stdin; stdout/stderr are captured (one trailing newline
// removed, like the real provider's outputs) and, per Spec.Logging, each line
// is passed to r.LogLine.  A non-zero exit is an error that quotes the tail of
// stderr and stdout (secrets redacted).
func run(ctx context.Context, r *runRequest) (runResult, error) {
	s := r.Spec
	if s.Dir != "" {
		st, err := os.Stat(s.Dir)
		if err != nil {
			return runResult{}, fmt.Errorf("dir %q: %w", s.Dir, err)
		}
		if !st.IsDir() {
			return runResult{}, fmt.Errorf("dir %q is not a directory", s.Dir)
		}
	}
	if r.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, r.Timeout)
		defer cancel()
	}
	args := append(append([]string{}, s.Interpreter[1:]...), r.Command)
	cmd := exec.CommandContext(ctx, s.Interpreter[0], args...)
	cmd.Dir = s.Dir
	cmd.Env = environ(r)
	// Own process group, so a cancelled/timed-out run kills the children too.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	if s.Stdin != nil {
		cmd.Stdin = strings.NewReader(*s.Stdin)
	}

	logger := func(stream string) func(string) {
		if r.LogLine == nil {
			return nil
		}
		on := s.Logging == LogStdoutAndStderr || s.Logging == stream
		if !on {
			return nil
		}
		return func(line string) { r.LogLine(redact(line, s.Secrets)) }
	}
	stdout := &lineWriter{emit: logger(LogStdout)}
	stderr := &lineWriter{emit: logger(LogStderr)}
	cmd.Stdout, cmd.Stderr = stdout, stderr

	err := cmd.Run()
	stdout.flush()
	stderr.flush()
	res := runResult{
		Stdout: strings.TrimSuffix(stdout.all.String(), "\n"),
		Stderr: strings.TrimSuffix(stderr.all.String(), "\n"),
	}
	if err == nil {
		return res, nil
	}
	n := r.tailLinesInErr
	if n == 0 {
		n = 20
	}
	var b strings.Builder
	what := err.Error()
	var ee *exec.ExitError
	if errors.As(err, &ee) && ee.Exited() {
		what = fmt.Sprintf("exit status %d", ee.ExitCode())
	}
	if ctx.Err() != nil {
		what += " (" + ctx.Err().Error() + ")"
	}
	fmt.Fprintf(&b, "%s command failed: %s", r.Op, what)
	if res.Stderr != "" {
		fmt.Fprintf(&b, "\nstderr (last lines):\n%s", redact(tail(res.Stderr, n), s.Secrets))
	}
	if res.Stdout != "" {
		fmt.Fprintf(&b, "\nstdout (last lines):\n%s", redact(tail(res.Stdout, n), s.Secrets))
	}
	return res, errors.New(b.String())
}
