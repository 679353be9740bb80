namespace Tessera.Cli;

/// <summary>The tool's exit codes; documented in docs/cli.md and in <c>tessera --help</c>. Never renumber.</summary>
internal static class ExitCodes
{
    public const int Ok = 0;
    public const int Usage = 1;
    public const int NotFound = 2;
    public const int StoreError = 3;
    public const int Refused = 4;

    public const string Help = """
        Exit codes: 0 ok, 1 usage error (bad arguments, bad or missing store URL), 2 not found (show/revoke of an
        unknown or dead session), 3 store error (unreachable, refused login, schema too new), 4 refused (clear without --force).
        """;
}
