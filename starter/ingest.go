package main

import (
	"context"
	"fmt"
)

func runIngest(ctx context.Context, args []string) error { return fmt.Errorf("not yet") }
