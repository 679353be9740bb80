namespace Tessera.Client;

/// <summary>
/// Where the client keeps the token pair between requests and app runs: the platform's secure storage on a device
/// (MAUI's <c>SecureStorage</c>, the Windows credential locker, the macOS keychain), memory in a server-to-server client.
/// The client reads the pair once (the first time it needs it) and then writes through: each sign-in's and each
/// rotation's pair is saved with <see cref="SaveAsync"/> as it arrives, and <see cref="ClearAsync"/> runs on sign-out
/// and when the server ends the session. Calls to <see cref="SaveAsync"/> and <see cref="ClearAsync"/> never overlap.
/// </summary>
public interface ITesseraTokenStore
{
    /// <summary>Reads the stored pair.</summary>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>The pair, or <see langword="null"/> when none is stored (the client then sends requests without a token).
    /// An exception fails the request that needed the pair; the next request reads again.</returns>
    ValueTask<TesseraTokenPair?> LoadAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Stores <paramref name="pair"/> in place of the previous one, both tokens at once. If this throws after a
    /// rotation, the client keeps using the new pair from memory (the old refresh token is already dead on the server)
    /// and logs a warning; the next rotation saves again.
    /// </summary>
    /// <param name="pair">The pair to keep.</param>
    /// <param name="cancellationToken">Cancels the write.</param>
    /// <returns>A task that completes when the pair is stored.</returns>
    ValueTask SaveAsync(TesseraTokenPair pair, CancellationToken cancellationToken);

    /// <summary>Forgets the stored pair; a no-op when none is stored.</summary>
    /// <param name="cancellationToken">Cancels the write.</param>
    /// <returns>A task that completes when the pair is gone.</returns>
    ValueTask ClearAsync(CancellationToken cancellationToken);
}

/// <summary>
/// The default <see cref="ITesseraTokenStore"/>: the pair in memory only, so it is lost when the process ends (the user
/// signs in again). Right for server-to-server clients and tests; a device app wants secure storage.
/// </summary>
public sealed class InMemoryTesseraTokenStore : ITesseraTokenStore
{
    private volatile TesseraTokenPair? _pair;

    /// <inheritdoc />
    public ValueTask<TesseraTokenPair?> LoadAsync(CancellationToken cancellationToken) => ValueTask.FromResult(_pair);

    /// <inheritdoc />
    public ValueTask SaveAsync(TesseraTokenPair pair, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(pair);
        _pair = pair;
        return ValueTask.CompletedTask;
    }

    /// <inheritdoc />
    public ValueTask ClearAsync(CancellationToken cancellationToken)
    {
        _pair = null;
        return ValueTask.CompletedTask;
    }
}
