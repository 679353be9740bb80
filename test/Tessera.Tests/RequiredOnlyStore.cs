namespace Tessera.Tests;

/// <summary>A store with only the required contract, so every optional capability is really absent.</summary>
internal class RequiredOnlyStore(ISessionStore inner) : ISessionStore
{
    public ValueTask<bool> CreateAsync(SessionRecord record, CancellationToken cancellationToken = default) => inner.CreateAsync(record, cancellationToken);

    public ValueTask<SessionRecord?> LoadAsync(string id, CancellationToken cancellationToken = default) => inner.LoadAsync(id, cancellationToken);

    public ValueTask<SessionRecord?> LoadByCredentialAsync(ReadOnlyMemory<byte> credentialHash, CancellationToken cancellationToken = default) => inner.LoadByCredentialAsync(credentialHash, cancellationToken);

    public ValueTask<bool> ApplyAsync(string id, SessionPatch patch, CancellationToken cancellationToken = default) => inner.ApplyAsync(id, patch, cancellationToken);

    public ValueTask<bool> TouchAsync(string id, DateTimeOffset lastSeenAt, DateTimeOffset idleExpiresAt, CancellationToken cancellationToken = default) => inner.TouchAsync(id, lastSeenAt, idleExpiresAt, cancellationToken);

    public ValueTask<bool> RevokeAsync(string id, DateTimeOffset revokedAt, CancellationToken cancellationToken = default) => inner.RevokeAsync(id, revokedAt, cancellationToken);

    public ValueTask<bool> DeleteAsync(string id, CancellationToken cancellationToken = default) => inner.DeleteAsync(id, cancellationToken);
}
