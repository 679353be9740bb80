using System.Text.Json;

namespace Tessera.PostgreSql;

/// <summary>A session read together with its user row (see <see cref="PostgreSqlSessionStoreOptions.UserQuery"/>).</summary>
/// <param name="Session">The live session.</param>
/// <param name="User">The user as JSON, or <see langword="null"/> when the join found none.</param>
public sealed record SessionWithUser(SessionRecord Session, JsonElement? User);
