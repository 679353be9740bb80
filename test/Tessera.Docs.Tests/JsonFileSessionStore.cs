using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.Extensions.DependencyInjection;
using Tessera.Tokens;

namespace Tessera.Docs.Tests;

#region declaration
/// <summary>
/// A session store over a directory of JSON files: one file per session, holding the session and its tokens, and small
/// pointer files that find a session by its credential hash or by a token id. The example of docs/custom-store.md.
/// </summary>
/// <remarks>
/// Sessions survive a restart of the app (not a power cut: files are not flushed to disk). One process only: writes
/// take a lock inside this object, which another process does not see. Reads take no lock. Listing, counting and
/// cleanup read every file, which suits thousands of sessions, not millions; a store over a database uses its indexes.
/// </remarks>
public sealed class JsonFileSessionStore :
    ISessionStore,
    ISessionStoreCleanup,
    ISessionStoreCounter,
    ISubjectSessionIndex,
    ISubjectSessionLimiter,
    ISessionTokenStore,
    ISessionStoreAdministration
{
    private static readonly JsonSerializerOptions Json = new() { Converters = { new JsonStringEnumConverter() } };

    private readonly string _directory;
    private readonly string _sessions;
    private readonly string _credentials;
    private readonly string _tokens;
    private readonly TimeProvider _time;

    // Every write holds it: a write reads a file, decides, and writes it back, and nothing may change it in between.
    private readonly Lock _writeLock = new();

    /// <summary>Opens (and creates when missing) a store in a directory.</summary>
    /// <param name="directory">The directory; its <c>sessions</c>, <c>credentials</c> and <c>tokens</c> folders belong to the store.</param>
    /// <param name="timeProvider">The clock that decides expiry; <see cref="TimeProvider.System"/> when <see langword="null"/>.</param>
    public JsonFileSessionStore(string directory, TimeProvider? timeProvider = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(directory);
        _directory = Path.GetFullPath(directory);
        _sessions = Directory.CreateDirectory(Path.Combine(_directory, "sessions")).FullName;
        _credentials = Directory.CreateDirectory(Path.Combine(_directory, "credentials")).FullName;
        _tokens = Directory.CreateDirectory(Path.Combine(_directory, "tokens")).FullName;
        _time = timeProvider ?? TimeProvider.System;
    }

    // What one session file holds. SessionRecord and TokenRecord are plain records, written as they are.
    private sealed record SessionFile(SessionRecord Session, IReadOnlyList<TokenRecord> Tokens);

    private DateTimeOffset Now() => _time.GetUtcNow();
    #endregion

    #region files
    // File names are hashes: an id or a token id comes from outside (a URL, a JWT), so it never becomes a path itself.
    private static string NameOf(string key) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(key)));

    private string SessionPath(string id) => Path.Combine(_sessions, NameOf(id) + ".json");

    private string CredentialPath(ReadOnlySpan<byte> credentialHash) => Path.Combine(_credentials, Convert.ToHexStringLower(credentialHash));

    private string TokenPath(string tokenId) => Path.Combine(_tokens, NameOf(tokenId));

    // The session's file, or null. Another id could share the file name only by a hash collision or by invalid UTF-16
    // (unpaired surrogates all become U+FFFD in UTF-8), so the file says whose it is.
    private SessionFile? Read(string id)
    {
        var file = ReadFile(SessionPath(id));
        return file?.Session.Id == id ? file : null;
    }

    private SessionFile? ReadLive(string id) => Read(id) is { } file && file.Session.IsActiveAt(Now()) ? file : null;

    private static SessionFile? ReadFile(string path) =>
        ReadBytes(path) is { } bytes ? JsonSerializer.Deserialize<SessionFile>(bytes, Json) : null;

    // Every session file, read without the lock; a file deleted during the walk is skipped.
    private IEnumerable<SessionFile> ReadAll()
    {
        foreach (var path in Directory.EnumerateFiles(_sessions, "*.json"))
        {
            if (ReadFile(path) is { } file)
            {
                yield return file;
            }
        }
    }

    private void Write(SessionFile file) => WriteBytes(SessionPath(file.Session.Id), JsonSerializer.SerializeToUtf8Bytes(file, Json));

    // A pointer file holds a session id. It is a hint: the session's own file decides (see HolderOf and FindToken), so
    // writing that file is what commits a change. Pointers a change adds are written before it, pointers it retires
    // are deleted after it: a reader that takes no lock finds the whole old state or the whole new one.
    private static string? ReadPointer(string path) => ReadBytes(path) is { } bytes ? Encoding.UTF8.GetString(bytes) : null;

    private static void WritePointer(string path, string id) => WriteBytes(path, Encoding.UTF8.GetBytes(id));

    // Deletes a pointer only if it still names this session: a hash given up earlier may belong to another by now.
    private static void ForgetPointer(string path, string id)
    {
        if (ReadPointer(path) == id)
        {
            File.Delete(path);
        }
    }

    private static byte[]? ReadBytes(string path)
    {
        try
        {
            // FileShare.Delete lets a writer rename over a file being read (Windows needs it; Linux allows it anyway).
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            var bytes = new byte[stream.Length];
            stream.ReadExactly(bytes);
            return bytes;
        }
        catch (FileNotFoundException)
        {
            return null;
        }
    }

    // Whole or not at all: the bytes go to a temporary file, which then replaces the old one in one rename. A reader
    // sees the old file or the new one, and a crash leaves at worst a stray .tmp file.
    private static void WriteBytes(string path, byte[] bytes)
    {
        var temporary = $"{path}.{Guid.NewGuid():N}.tmp";
        try
        {
            File.WriteAllBytes(temporary, bytes);
            File.Move(temporary, path, overwrite: true);
        }
        finally
        {
            File.Delete(temporary); // gone already after the rename; left over only when something failed
        }
    }
    #endregion

    #region create-and-load
    /// <inheritdoc />
    public ValueTask<bool> CreateAsync(SessionRecord record, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(record);
        cancellationToken.ThrowIfCancellationRequested();
        lock (_writeLock)
        {
            // Taken means taken in any state: an expired or revoked session keeps its id until it is deleted.
            if (File.Exists(SessionPath(record.Id)) || HolderOf(record.CredentialHash) is not null)
            {
                return ValueTask.FromResult(false);
            }
            // Until the session's file exists the pointer finds nothing, so a crash in between leaves no half session.
            WritePointer(CredentialPath(record.CredentialHash), record.Id);
            Write(new SessionFile(record, []));
            return ValueTask.FromResult(true);
        }
    }

    /// <inheritdoc />
    public ValueTask<SessionRecord?> LoadAsync(string id, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(id);
        cancellationToken.ThrowIfCancellationRequested();
        return ValueTask.FromResult(ReadLive(id)?.Session);
    }

    /// <inheritdoc />
    public ValueTask<SessionRecord?> LoadByCredentialAsync(ReadOnlyMemory<byte> credentialHash, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var file = HolderOf(credentialHash.Span);
        return ValueTask.FromResult(file is not null && file.Session.IsActiveAt(Now()) ? file.Session : null);
    }

    // The session whose current credential is this hash, live or expired but not revoked (a revoked session gives its
    // hash up). The pointer may be stale (a crash, a regeneration), so the session's file must agree with it.
    private SessionFile? HolderOf(ReadOnlySpan<byte> credentialHash)
    {
        var id = ReadPointer(CredentialPath(credentialHash));
        var file = id is null ? null : Read(id);
        return file is { Session.RevokedAt: null } && file.Session.CredentialHash.AsSpan().SequenceEqual(credentialHash) ? file : null;
    }
    #endregion

    #region apply
    /// <inheritdoc />
    public ValueTask<bool> ApplyAsync(string id, SessionPatch patch, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(id);
        ArgumentNullException.ThrowIfNull(patch);
        cancellationToken.ThrowIfCancellationRequested();
        lock (_writeLock)
        {
            // Not live means no write at all: a patch never brings back a session that expired or was revoked.
            if (ReadLive(id) is not { } file || (patch.NewCredentialHash is { } taken && HolderOf(taken) is not null))
            {
                return ValueTask.FromResult(false);
            }
            var session = file.Session;
            var patched = patch.ApplyTo(session);
            if (patch.NewCredentialHash is { } newHash)
            {
                WritePointer(CredentialPath(newHash), id);
            }
            // One file write carries the whole patch, so it lands whole or not at all.
            Write(file with { Session = patched });
            if (patch.NewCredentialHash is not null)
            {
                ForgetPointer(CredentialPath(session.CredentialHash), id);
            }
            return ValueTask.FromResult(true);
        }
    }
    #endregion

    #region touch-revoke-delete
    /// <inheritdoc />
    public ValueTask<bool> TouchAsync(string id, DateTimeOffset lastSeenAt, DateTimeOffset idleExpiresAt, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(id);
        cancellationToken.ThrowIfCancellationRequested();
        lock (_writeLock)
        {
            if (ReadLive(id) is not { } file)
            {
                return ValueTask.FromResult(false);
            }
            Write(file with { Session = file.Session with { LastSeenAt = lastSeenAt, IdleExpiresAt = idleExpiresAt } });
            return ValueTask.FromResult(true);
        }
    }

    /// <inheritdoc />
    public ValueTask<bool> RevokeAsync(string id, DateTimeOffset revokedAt, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(id);
        cancellationToken.ThrowIfCancellationRequested();
        lock (_writeLock)
        {
            return ValueTask.FromResult(Revoke(id, revokedAt));
        }
    }

    // Under the lock. An expired session can still be revoked: it is a record until cleanup deletes it.
    private bool Revoke(string id, DateTimeOffset revokedAt)
    {
        if (Read(id) is not { Session.RevokedAt: null } file)
        {
            return false;
        }
        Write(file with { Session = file.Session with { RevokedAt = revokedAt } });
        ForgetPointer(CredentialPath(file.Session.CredentialHash), id);
        return true;
    }

    /// <inheritdoc />
    public ValueTask<bool> DeleteAsync(string id, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(id);
        cancellationToken.ThrowIfCancellationRequested();
        lock (_writeLock)
        {
            if (Read(id) is not { } file)
            {
                return ValueTask.FromResult(false);
            }
            Delete(file);
            return ValueTask.FromResult(true);
        }
    }

    // Under the lock. The session's file goes first: once it is gone, every pointer to it finds nothing.
    private void Delete(SessionFile file)
    {
        var id = file.Session.Id;
        File.Delete(SessionPath(id));
        ForgetPointer(CredentialPath(file.Session.CredentialHash), id);
        foreach (var token in file.Tokens)
        {
            ForgetPointer(TokenPath(token.Id), id);
        }
    }
    #endregion

    #region cleanup
    /// <inheritdoc />
    public ValueTask<int> DeleteExpiredAsync(int batchSize, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        return ValueTask.FromResult(DeleteWhere(session => Now() >= session.ExpiresAt, batchSize, cancellationToken));
    }

    /// <inheritdoc />
    public ValueTask<int> DeleteRevokedAsync(DateTimeOffset revokedBefore, int batchSize, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        return ValueTask.FromResult(DeleteWhere(session => session.RevokedAt <= revokedBefore, batchSize, cancellationToken));
    }

    // Finds candidates without the lock, then takes the lock for each one and checks it again: a request may have
    // touched it in between, and deleting it then would sign a live user out.
    private int DeleteWhere(Func<SessionRecord, bool> doomed, int batchSize, CancellationToken cancellationToken)
    {
        var deleted = 0;
        foreach (var candidate in ReadAll().Where(file => doomed(file.Session)).Select(file => file.Session.Id).ToList())
        {
            cancellationToken.ThrowIfCancellationRequested();
            lock (_writeLock)
            {
                if (Read(candidate) is { } file && doomed(file.Session))
                {
                    Delete(file);
                    deleted++;
                }
            }
            if (deleted == batchSize)
            {
                break;
            }
        }
        return deleted;
    }
    #endregion

    #region count-and-subjects
    /// <inheritdoc />
    public ValueTask<long> CountAsync(CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var now = Now();
        return ValueTask.FromResult(ReadAll().LongCount(file => file.Session.IsActiveAt(now)));
    }

    /// <inheritdoc />
    public ValueTask<IReadOnlyList<SessionRecord>> ListBySubjectAsync(string subject, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(subject);
        cancellationToken.ThrowIfCancellationRequested();
        IReadOnlyList<SessionRecord> sessions = [.. LiveSessionsOf(subject)
            .OrderBy(session => session.CreatedAt)
            .ThenBy(session => session.Id, StringComparer.Ordinal)];
        return ValueTask.FromResult(sessions);
    }

    private List<SessionRecord> LiveSessionsOf(string subject)
    {
        var now = Now();
        return [.. ReadAll().Select(file => file.Session).Where(session => session.Subject == subject && session.IsActiveAt(now))];
    }
    #endregion

    #region limits
    /// <inheritdoc />
    public ValueTask<IReadOnlyList<string>> TrimSubjectAsync(string subject, int keep, SessionLimitOrder order, string? mustKeepId, DateTimeOffset revokedAt, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(subject);
        ArgumentOutOfRangeException.ThrowIfLessThan(keep, 1);
        cancellationToken.ThrowIfCancellationRequested();
        // The lock makes the read, the ranking and the revocations one step: two sign-ins that trim at once cannot
        // both count the same sessions and leave more than `keep`.
        lock (_writeLock)
        {
            var live = LiveSessionsOf(subject);
            if (live.Count <= keep)
            {
                return ValueTask.FromResult<IReadOnlyList<string>>([]);
            }
            var first = live.OrderByDescending(session => session.Id == mustKeepId); // mustKeepId ranks first
            var beyond = order switch
            {
                SessionLimitOrder.NewcomerOnly => live.Where(session => session.Id == mustKeepId),
                SessionLimitOrder.OldestCreated => first
                    .ThenBy(session => session.CreatedAt)
                    .ThenBy(session => session.Id, StringComparer.Ordinal)
                    .Skip(keep),
                SessionLimitOrder.MostRecentlySeen => first
                    .ThenByDescending(session => session.LastSeenAt)
                    .ThenByDescending(session => session.CreatedAt)
                    .ThenByDescending(session => session.Id, StringComparer.Ordinal)
                    .Skip(keep),
                _ => throw new ArgumentOutOfRangeException(nameof(order), order, "Unknown order."),
            };
            IReadOnlyList<string> revoked = [.. beyond.Select(session => session.Id)];
            foreach (var id in revoked)
            {
                Revoke(id, revokedAt);
            }
            return ValueTask.FromResult(revoked);
        }
    }
    #endregion

    #region tokens
    /// <inheritdoc />
    public ValueTask<bool> CreateTokensAsync(TokenRecord access, TokenRecord refresh, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(access);
        ArgumentNullException.ThrowIfNull(refresh);
        cancellationToken.ThrowIfCancellationRequested();
        lock (_writeLock)
        {
            if (access.SessionId != refresh.SessionId || access.Id == refresh.Id
                || FindToken(access.Id) is not null || FindToken(refresh.Id) is not null
                || ReadLive(access.SessionId) is not { } file)
            {
                return ValueTask.FromResult(false);
            }
            WritePointer(TokenPath(access.Id), access.SessionId);
            WritePointer(TokenPath(refresh.Id), refresh.SessionId);
            Write(file with { Tokens = [.. file.Tokens, access, refresh] });
            return ValueTask.FromResult(true);
        }
    }

    /// <inheritdoc />
    public ValueTask<TokenLookup?> LoadTokenAsync(string tokenId, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(tokenId);
        cancellationToken.ThrowIfCancellationRequested();
        // The session comes back in whatever state it is: the token service tells a revoked session from a reused token.
        return ValueTask.FromResult(FindToken(tokenId) is (TokenRecord token, SessionFile file) ? new TokenLookup(token, file.Session) : null);
    }

    /// <inheritdoc />
    public ValueTask<TokenLookup?> LoadRefreshTokenAsync(string tokenId, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(tokenId);
        cancellationToken.ThrowIfCancellationRequested();
        // One file read holds the token, its successor pair and the session as they were at one moment, which is what
        // lets the token service answer a retry with that pair only while it is still the current one.
        if (FindToken(tokenId) is not (TokenRecord token, SessionFile file))
        {
            return ValueTask.FromResult<TokenLookup?>(null);
        }
        var successor = file.Tokens.FirstOrDefault(t => t.Id == token.SuccessorId);
        var successorAccess = successor is null ? null : file.Tokens.FirstOrDefault(t => t.Id == successor.PairedTokenId);
        return ValueTask.FromResult<TokenLookup?>(new TokenLookup(token, file.Session) { Successor = successor, SuccessorAccess = successorAccess });
    }

    /// <inheritdoc />
    public ValueTask<TokenRotationOutcome> RotateAsync(string refreshTokenId, TokenRecord newAccess, TokenRecord newRefresh, DateTimeOffset now, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(refreshTokenId);
        ArgumentNullException.ThrowIfNull(newAccess);
        ArgumentNullException.ThrowIfNull(newRefresh);
        cancellationToken.ThrowIfCancellationRequested();
        // Under the lock, of two rotations of one token the second finds it revoked: one successor pair, never two.
        lock (_writeLock)
        {
            if (FindToken(refreshTokenId) is not (TokenRecord old, SessionFile file) || old.Kind != TokenKind.Refresh)
            {
                return ValueTask.FromResult(TokenRotationOutcome.NotFound);
            }
            if (old.RevokedAt is not null)
            {
                return ValueTask.FromResult(TokenRotationOutcome.AlreadyRevoked);
            }
            var session = file.Session;
            if (!session.IsActiveAt(Now()) || newAccess.SessionId != session.Id || newRefresh.SessionId != session.Id)
            {
                return ValueTask.FromResult(TokenRotationOutcome.SessionNotLive);
            }
            if (FindToken(newAccess.Id) is not null || FindToken(newRefresh.Id) is not null)
            {
                throw new InvalidOperationException("A new token id collided with a stored one.");
            }
            var tokens = file.Tokens
                .Select(token => token.Id == old.Id ? token with { RevokedAt = now, SuccessorId = newRefresh.Id }
                    : token.Id == old.PairedTokenId && token.RevokedAt is null ? token with { RevokedAt = now }
                    : token)
                .ToList();
            // A rotated token that expired over a minute ago can never be presented again (an expired token is refused
            // before the store is asked): drop it, so a session refreshed for days keeps only its recent pairs.
            var cutoff = now - TesseraDefaults.ExpiredTokenRetention;
            var spent = tokens.Where(token => token.RevokedAt is not null && token.ExpiresAt < cutoff).ToList();
            // The session lives at least as long as its new refresh token, within its absolute deadline.
            var refreshDeadline = newRefresh.ExpiresAt < session.AbsoluteExpiresAt ? newRefresh.ExpiresAt : session.AbsoluteExpiresAt;
            var idleExpiresAt = refreshDeadline > session.IdleExpiresAt ? refreshDeadline : session.IdleExpiresAt;
            // The new pointers first: a racing refresh that finds the old token rotated looks its successor up at once.
            WritePointer(TokenPath(newAccess.Id), session.Id);
            WritePointer(TokenPath(newRefresh.Id), session.Id);
            Write(new SessionFile(
                session with { LastSeenAt = now, IdleExpiresAt = idleExpiresAt },
                [.. tokens.Except(spent), newAccess, newRefresh]));
            foreach (var token in spent)
            {
                ForgetPointer(TokenPath(token.Id), session.Id);
            }
            return ValueTask.FromResult(TokenRotationOutcome.Rotated);
        }
    }

    // A token and its session's file, or null. Tokens live in their session's file until a rotation drops them or the
    // session is deleted.
    private (TokenRecord Token, SessionFile File)? FindToken(string tokenId)
    {
        var file = ReadPointer(TokenPath(tokenId)) is { } id ? Read(id) : null;
        var token = file?.Tokens.FirstOrDefault(token => token.Id == tokenId);
        return token is null ? null : (token, file!);
    }
    #endregion

    #region administration
    /// <inheritdoc />
    /// <remarks>Sessions come ordered by id; the cursor is the last id of the page.</remarks>
    public ValueTask<SessionPage> ListSessionsAsync(SessionQuery query, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(query);
        query.Validate();
        cancellationToken.ThrowIfCancellationRequested();
        var now = Now();
        var after = ReadAll()
            .Select(file => file.Session)
            .Where(session => query.Matches(session, now) && (query.Cursor is null || string.CompareOrdinal(session.Id, query.Cursor) > 0))
            .OrderBy(session => session.Id, StringComparer.Ordinal)
            .ToList();
        var page = after.Take(query.PageSize).ToList();
        return ValueTask.FromResult(new SessionPage(page, after.Count > page.Count ? page[^1].Id : null));
    }

    /// <inheritdoc />
    public ValueTask<SessionStoreStatistics> GetStatisticsAsync(CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var now = Now();
        var states = ReadAll().Select(file => SessionQuery.StateOf(file.Session, now)).ToList();
        var bytes = new DirectoryInfo(_directory).EnumerateFiles("*", SearchOption.AllDirectories).Sum(file => file.Length);
        return ValueTask.FromResult(new SessionStoreStatistics(
            Live: states.Count(state => state == SessionState.Live),
            Expired: states.Count(state => state == SessionState.Expired),
            Revoked: states.Count(state => state == SessionState.Revoked),
            SizeBytes: bytes,
            SizeDescription: "the files under the store's directory"));
    }

    /// <inheritdoc />
    public ValueTask<long> ClearAsync(CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        lock (_writeLock)
        {
            long sessions = Directory.EnumerateFiles(_sessions, "*.json").LongCount();
            foreach (var folder in new[] { _sessions, _credentials, _tokens })
            {
                foreach (var path in Directory.EnumerateFiles(folder))
                {
                    File.Delete(path);
                }
            }
            return ValueTask.FromResult(sessions);
        }
    }
    #endregion
}

#region registration
/// <summary>Chooses <see cref="JsonFileSessionStore"/> on a <see cref="TesseraBuilder"/>.</summary>
public static class JsonFileTesseraBuilderExtensions
{
    /// <summary>
    /// Uses a <see cref="JsonFileSessionStore"/> in <paramref name="directory"/> as the session store, on the container's
    /// <see cref="TimeProvider"/> (the one Tessera uses, so tests can move it).
    /// </summary>
    /// <param name="builder">The builder.</param>
    /// <param name="directory">The store's directory; created when missing.</param>
    /// <returns>The builder.</returns>
    public static TesseraBuilder UseJsonFileStore(this TesseraBuilder builder, string directory)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentException.ThrowIfNullOrWhiteSpace(directory);
        return builder.UseStore(services => new JsonFileSessionStore(directory, services.GetService<TimeProvider>()));
    }
}
#endregion
