using System.Text.RegularExpressions;
using Microsoft.Extensions.Options;
using OpsConsole.Core.Deployments;

namespace OpsConsole.Core.Tests.Deployments;

public sealed class RunbookParserTests
{
    private static Runbook Shipped()
    {
        var template = new RunbookCatalog(Options.Create(new DeploymentOptions())).Find(RunbookCatalog.RaceConditionFixes);
        Assert.NotNull(template);
        Assert.Empty(template.Problems);
        return template.Runbook!;
    }

    [Fact]
    public void The_shipped_runbook_has_the_guides_sections_in_the_order_an_engineer_works_through_them()
    {
        var runbook = Shipped();

        Assert.Equal("Race-condition fixes for lead purchases", runbook.Title);
        Assert.Equal(64, runbook.VersionHash.Length);
        Assert.Contains("payment fixes", runbook.IntroHtml, StringComparison.Ordinal);
        Assert.DoesNotContain("runbook authors", runbook.IntroHtml, StringComparison.Ordinal);
        var topLevel = runbook.Sections.Where(s => s.Level == 2).Select(s => s.Role).Distinct().ToArray();
        Assert.Equal(
            [SectionRole.Contacts, SectionRole.PreDeployment, SectionRole.Steps, SectionRole.Verification, SectionRole.Monitoring,
             SectionRole.Rollback, SectionRole.FinalChecklist, SectionRole.SignOff, SectionRole.Notes, SectionRole.Reference],
            topLevel);
        Assert.Equal(
            ["1. Review the changes", "2. Backup", "3. Testing"],
            runbook.Sections.Where(s => s.Role == SectionRole.PreDeployment && s.Level == 3).Select(s => s.Title));
        var migration = Assert.Single(runbook.Sections, s => s.Role == SectionRole.MigrationVerification);
        Assert.Equal("verify-migration", migration.Key);
        Assert.Equal(3, migration.Level);
    }

    [Fact]
    public void Every_checklist_item_of_the_guide_is_an_item_and_nested_file_lists_stay_with_their_item()
    {
        var runbook = Shipped();

        Assert.Equal(10, runbook.ItemsOf(SectionRole.PreDeployment).Count);
        Assert.Equal(12, runbook.ItemsOf(SectionRole.FinalChecklist).Count);
        Assert.Equal(10, runbook.ItemsOf(SectionRole.Rollback).Count);
        Assert.Equal(runbook.Items.Count, runbook.Items.Select(i => i.Key).Distinct().Count());
        Assert.StartsWith("final-checklist/", runbook.ItemsOf(SectionRole.FinalChecklist)[0].Key, StringComparison.Ordinal);

        var review = Assert.Single(runbook.Items, i => i.Text.StartsWith("Code changes reviewed in", StringComparison.Ordinal));
        Assert.NotNull(review.DetailHtml);
        Assert.Contains("<code>src/app/api/webhooks/stripe/route.ts</code>", review.DetailHtml, StringComparison.Ordinal);
        Assert.Equal(3, CountOf(review.DetailHtml!, "<li>"));

        var readme = runbook.Items[0];
        Assert.Equal("RACE_CONDITION_FIXES.md read from start to end", readme.Text);
        Assert.Equal("<code>RACE_CONDITION_FIXES.md</code> read from start to end", readme.Html);
    }

    [Fact]
    public void The_sql_checks_become_probes_with_the_expectation_written_under_them()
    {
        var probes = Shipped().Probes;

        Assert.Equal(10, probes.Count);
        Assert.Equal(
            [
                (ExpectationKind.RowCount, 4m), (ExpectationKind.RowCount, 2m), (ExpectationKind.Grant, 0m),
                (ExpectationKind.RunsWithoutError, 0m), (ExpectationKind.ValueAtMost, 1m), (ExpectationKind.RowCount, 0m),
                (ExpectationKind.ValueAtLeast, 98m), (ExpectationKind.RowCount, 0m), (ExpectationKind.RowCount, 0m),
                (ExpectationKind.RunsWithoutError, 0m),
            ],
            probes.Select(p => (p.Expectation.Kind, p.Expectation.Number)));
        Assert.Equal("The four purchase functions exist", probes[0].Title);
        Assert.All(new[] { "validate_and_lock_leads_for_purchase", "complete_credit_lead_purchase", "complete_stripe_lead_purchase", "mark_leads_sold_bulk" },
            name => Assert.Contains($"'{name}'", probes[0].Sql, StringComparison.Ordinal));
        Assert.Equal(("service_role", "EXECUTE"), (probes[2].Expectation.Role, probes[2].Expectation.Privilege));
        Assert.Contains("mark_leads_sold_bulk", probes[2].Sql, StringComparison.Ordinal);
        Assert.All(probes.Take(3), p => Assert.Equal(SectionRole.MigrationVerification, p.Role));
        Assert.Equal(probes.Count, probes.Select(p => p.Key).Distinct().Count());
    }

    [Fact]
    public void The_credit_checks_use_the_full_formula_and_the_item_says_why_the_short_one_is_wrong()
    {
        var runbook = Shipped();
        var creditProbes = runbook.Probes.Where(p => p.Sql.Contains("FROM workspace_credits", StringComparison.Ordinal)).ToArray();

        Assert.Equal(2, creditProbes.Length);
        Assert.All(creditProbes, p =>
        {
            Assert.Contains("WHERE balance != (total_purchased + total_earned - total_used)", p.Sql, StringComparison.Ordinal);
            Assert.DoesNotContain("!= (total_purchased - total_used)", p.Sql, StringComparison.Ordinal);
        });
        var item = Assert.Single(runbook.ItemsOf(SectionRole.FinalChecklist), i => i.Text.Contains("Credit balance", StringComparison.Ordinal));
        Assert.Contains("total_purchased + total_earned - total_used", item.Text, StringComparison.Ordinal);
        Assert.Contains("flags every seller", item.Text, StringComparison.Ordinal);
        var why = runbook.Sections.Single(s => s.Title == "3. Credit consistency").Blocks.OfType<ProseBlock>().First().Html;
        Assert.Contains("every seller", why, StringComparison.Ordinal);
    }

    [Fact]
    public void The_conflict_probe_has_an_explicit_threshold_and_the_fifth_function_is_called_extra()
    {
        var runbook = Shipped();
        var conflicts = Assert.Single(runbook.Probes, p => p.Sql.Contains("'purchase_conflict'", StringComparison.Ordinal));

        Assert.Equal(ExpectationKind.ValueAtMost, conflicts.Expectation.Kind);
        Assert.Equal(1m, conflicts.Expectation.Number);
        var migrationText = string.Concat(runbook.Sections.Single(s => s.Key == "verify-migration").Blocks.OfType<ProseBlock>().Select(b => b.Html));
        Assert.Contains("release_expired_lead_reservations", migrationText, StringComparison.Ordinal);
        Assert.Contains("4 rows", migrationText, StringComparison.Ordinal);
    }

    [Fact]
    public void Contacts_reference_panels_and_monitoring_link_where_the_guide_points()
    {
        var runbook = Shipped();

        Assert.Equal(
            ["On-call engineer", "Slack channel", "Incident manager", "Emergency rollback contact 1", "Emergency rollback contact 2"],
            runbook.ContactFields.Select(f => f.Label));
        Assert.Equal("#engineering-critical", runbook.ContactFields[1].DefaultValue);
        Assert.Equal("", runbook.ContactFields[0].DefaultValue);

        string HtmlOf(string titleStart) => string.Concat(runbook.Sections.Single(s => s.Title.StartsWith(titleStart, StringComparison.Ordinal))
            .Blocks.OfType<ProseBlock>().Select(b => b.Html));
        Assert.Contains("href=\"/locks\"", HtmlOf("Troubleshooting: lock contention"), StringComparison.Ordinal);
        Assert.Contains("href=\"/credits\"", HtmlOf("Troubleshooting: credit balance"), StringComparison.Ordinal);
        Assert.Contains("href=\"#verify-migration\"", HtmlOf("Troubleshooting: \"function does not exist\""), StringComparison.Ordinal);
        Assert.Contains("href=\"/purchases\"", HtmlOf("Monitoring"), StringComparison.Ordinal);
        Assert.Contains("href=\"/locks\"", HtmlOf("Monitoring"), StringComparison.Ordinal);
        Assert.True(runbook.Sections.Count(s => s.Role == SectionRole.Reference) >= 6);
    }

    [Fact]
    public void Commands_keep_their_language_for_the_copy_button_and_sql_that_is_not_a_probe_is_never_run()
    {
        var runbook = Shipped();
        var commands = runbook.Sections.SelectMany(s => s.Blocks.OfType<CommandBlock>()).ToArray();

        Assert.Contains(commands, c => c.Language == "bash" && c.Text.Contains("supabase db push", StringComparison.Ordinal));
        Assert.Contains(commands, c => c.Language == "typescript" && c.Text.Contains("mcp__supabase__apply_migration", StringComparison.Ordinal));
        Assert.Contains(commands, c => c.Language == "sql" && c.Text.Contains("DROP FUNCTION IF EXISTS mark_leads_sold_bulk", StringComparison.Ordinal));
        Assert.DoesNotContain(runbook.Probes, p => p.Sql.Contains("DROP", StringComparison.OrdinalIgnoreCase) || p.Sql.Contains("GRANT", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("Should return 4 rows", ExpectationKind.RowCount, 4)]
    [InlineData("should return 1 row.", ExpectationKind.RowCount, 1)]
    [InlineData("should be 0", ExpectationKind.ValueEquals, 0)]
    [InlineData("Should be at most 1.5", ExpectationKind.ValueAtMost, 1.5)]
    [InlineData("Should be at least 98", ExpectationKind.ValueAtLeast, 98)]
    public void Expectations_are_read_from_the_words_of_the_comment(string text, ExpectationKind kind, double number)
    {
        var expectation = ProbeExpectation.TryParse(text);

        Assert.NotNull(expectation);
        Assert.Equal(kind, expectation.Kind);
        Assert.Equal((decimal)number, expectation.Number);
    }

    [Theory]
    [InlineData("Should be 0 or very low")]
    [InlineData("Should return some rows")]
    [InlineData("Should show that it works")]
    public void Vague_expectations_are_not_guessed(string text) => Assert.Null(ProbeExpectation.TryParse(text));

    [Fact]
    public void A_runbook_with_a_vague_expectation_a_double_statement_a_ticked_item_or_an_unknown_role_is_refused_with_every_problem()
    {
        const string markdown = """
            # Broken

            ## Checks {role=checks}

            - [x] Already done

            ```sql probe
            SELECT 1;
            -- Should be 0 or very low
            ```

            ```sql probe
            SELECT 1; DELETE FROM leads;
            ```
            """;

        var error = Assert.Throws<RunbookParseException>(() => RunbookParser.Parse("broken", markdown));

        Assert.Equal(4, error.Problems.Count);
        Assert.Contains(error.Problems, p => p.Contains("unknown role 'checks'", StringComparison.Ordinal));
        Assert.Contains(error.Problems, p => p.Contains("unticked", StringComparison.Ordinal));
        Assert.Contains(error.Problems, p => p.Contains("'-- Should be 0 or very low' is not an expectation", StringComparison.Ordinal));
        Assert.Contains(error.Problems, p => p.StartsWith("Line 12: a probe runs one statement", StringComparison.Ordinal));
    }

    [Fact]
    public void A_semicolon_inside_a_comment_or_a_string_is_not_a_second_statement()
    {
        Assert.False(RunbookParser.HoldsSeveralStatements("SELECT ';' AS x; -- done; really\n"));
        Assert.False(RunbookParser.HoldsSeveralStatements("SELECT 1 /* a; b */;"));
        Assert.True(RunbookParser.HoldsSeveralStatements("SELECT 1;\nSELECT 2;"));
    }

    [Fact]
    public void A_probe_hidden_inside_a_list_is_refused_rather_than_silently_skipped()
    {
        const string markdown = """
            # Hidden

            ## Checks

            1. Check this:

               ```sql probe
               SELECT 1;
               ```
            """;

        var error = Assert.Throws<RunbookParseException>(() => RunbookParser.Parse("hidden", markdown));

        Assert.Contains("would not be run", Assert.Single(error.Problems), StringComparison.Ordinal);
    }

    [Fact]
    public void Raw_html_in_a_runbook_is_shown_as_text_not_run_in_the_page()
    {
        var runbook = RunbookParser.Parse("html", "# T\n\n## S\n\n<script>alert(1)</script>\n\n- [ ] <b>bold</b> item\n");

        var prose = Assert.IsType<ProseBlock>(runbook.Sections[0].Blocks[0]);
        Assert.DoesNotContain("<script>", prose.Html, StringComparison.Ordinal);
        Assert.DoesNotContain("<b>", runbook.Items[0].Html, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("<javascript:alert(1)>")]
    [InlineData("<JavaScript:alert(1)>")]
    [InlineData("<data:text/html,x>")]
    [InlineData("<vbscript:msgbox(1)>")]
    [InlineData("[x](javascript:alert(1))")]
    [InlineData("[x](java&#115;cript:alert(1))")]
    [InlineData("[x](mailto:someone@example.com)")]
    [InlineData("![x](javascript:alert(1))")]
    public void Only_http_and_in_app_links_survive_in_runbook_prose(string markdown)
    {
        var runbook = RunbookParser.Parse("links", $"# T\n\n## S\n\nSee {markdown} here.\n\n- [ ] Open {markdown} now\n");

        var html = Assert.IsType<ProseBlock>(runbook.Sections[0].Blocks[0]).Html + runbook.Items[0].Html;
        foreach (var url in Regex.Matches(html, "(?:href|src)=\"([^\"]*)\"").Select(m => m.Groups[1].Value))
        {
            Assert.True(url == "#" || url.StartsWith('/') || url.StartsWith("https://", StringComparison.Ordinal), $"unsafe link survived: {url}");
        }

        Assert.DoesNotContain("<a href=\"javascript", html, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public void Http_relative_and_anchor_links_and_http_autolinks_are_kept()
    {
        var runbook = RunbookParser.Parse("links", "# T\n\n## S\n\n<https://example.com/a> [l](/locks) [a](#verify) [h](http://example.com)\n");

        var html = Assert.IsType<ProseBlock>(runbook.Sections[0].Blocks[0]).Html;
        Assert.Contains("href=\"https://example.com/a\"", html, StringComparison.Ordinal);
        Assert.Contains("href=\"/locks\"", html, StringComparison.Ordinal);
        Assert.Contains("href=\"#verify\"", html, StringComparison.Ordinal);
        Assert.Contains("href=\"http://example.com\"", html, StringComparison.Ordinal);
    }

    [Fact]
    public void The_version_ignores_line_endings_but_not_content()
    {
        const string text = "# T\n\n## S\n\n- [ ] one\n";

        Assert.Equal(RunbookParser.VersionOf(text), RunbookParser.VersionOf(text.Replace("\n", "\r\n", StringComparison.Ordinal)));
        Assert.NotEqual(RunbookParser.VersionOf(text), RunbookParser.VersionOf(text + "- [ ] two\n"));
    }

    [Fact]
    public void A_runbook_dropped_in_the_configured_folder_is_offered_next_to_the_built_in_one()
    {
        var folder = Directory.CreateTempSubdirectory("runbooks-");
        try
        {
            File.WriteAllText(Path.Combine(folder.FullName, "hotfix.md"), "# Hotfix\n\n## Do it {role=steps}\n\n- [ ] Done\n");
            File.WriteAllText(Path.Combine(folder.FullName, "broken.md"), "no title\n");
            var catalog = new RunbookCatalog(Options.Create(new DeploymentOptions { RunbookDirectory = folder.FullName }));

            var templates = catalog.List();

            Assert.Equal(["race-condition-fixes", "broken", "hotfix"], templates.Select(t => t.Slug));
            Assert.Equal("Hotfix", templates[2].Runbook!.Title);
            Assert.Null(templates[1].Runbook);
            Assert.NotEmpty(templates[1].Problems);
        }
        finally
        {
            folder.Delete(recursive: true);
        }
    }

    private static int CountOf(string text, string part) => (text.Length - text.Replace(part, "", StringComparison.Ordinal).Length) / part.Length;
}
