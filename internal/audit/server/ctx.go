package server

import "context"

func withPrincipal(ctx context.Context, p *principal) context.Context {
	return context.WithValue(ctx, ctxKey{}, p)
}
