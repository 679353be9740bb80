using Npgsql;
using NpgsqlTypes;

namespace Tessera.PostgreSql;

// Per-user sessions: listing a subject's sessions and trimming them to a limit.
public sealed partial class PostgreSqlSessionStore : ISubjectSessionIndex, ISubjectSessionLimiter
{
    /// <inheritdoc />
    public async ValueTask<IReadOnlyList<SessionRecord>> ListBySubjectAsync(string subject, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(subject);
        var command = await CommandAsync(_sql.ListBySubject, idempotent: true, cancellationToken).ConfigureAwait(false);
        await using var commandScope = command.ConfigureAwait(false);
        command.Parameters.Add(Text(subject));
        command.Parameters.Add(Time(Now()));
        var reader = await command.ReaderAsync(System.Data.CommandBehavior.Default, cancellationToken).ConfigureAwait(false);
        await using var readerScope = reader.ConfigureAwait(false);
        var list = new List<SessionRecord>();
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            list.Add(ReadSession(reader, 0));
        }
        return list;
    }

    /// <inheritdoc />
    /// <remarks>
    /// One statement that row-locks the subject's live sessions (in id order, so concurrent trims cannot deadlock), ranks
    /// them and revokes those beyond <paramref name="keep"/>.
    /// </remarks>
    public async ValueTask<IReadOnlyList<string>> TrimSubjectAsync(string subject, int keep, SessionLimitOrder order, string? mustKeepId, DateTimeOffset revokedAt, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(subject);
        ArgumentOutOfRangeException.ThrowIfLessThan(keep, 1);
        var newcomerOnly = order == SessionLimitOrder.NewcomerOnly;
        if (newcomerOnly && mustKeepId is null)
        {
            return [];
        }
        var command = await CommandAsync(newcomerOnly ? _sql.TrimNewcomer : _sql.TrimSubject, idempotent: false, cancellationToken).ConfigureAwait(false);
        await using var commandScope = command.ConfigureAwait(false);
        command.Parameters.Add(Text(subject));
        command.Parameters.Add(Time(Now()));
        command.Parameters.Add(new NpgsqlParameter<long> { NpgsqlDbType = NpgsqlDbType.Bigint, TypedValue = keep });
        if (!newcomerOnly)
        {
            command.Parameters.Add(Bool(order == SessionLimitOrder.OldestCreated));
        }
        command.Parameters.Add(mustKeepId is null
            ? new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Uuid, Value = DBNull.Value }
            : Uuid(MapId(mustKeepId).Key));
        command.Parameters.Add(Time(revokedAt));
        var reader = await command.ReaderAsync(System.Data.CommandBehavior.Default, cancellationToken).ConfigureAwait(false);
        await using var readerScope = reader.ConfigureAwait(false);
        var revoked = new List<string>();
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            revoked.Add(reader.GetString(0));
        }
        return revoked;
    }
}
